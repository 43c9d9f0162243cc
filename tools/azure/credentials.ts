// Bearer tokens for ARM (and, where a tool needs it, Azure Storage), from the same settings the
// azure-native provider signs in with, so a pipeline that authenticates `pulumi up` also
// authenticates the tools it runs. Order (first match wins; docs/ARCHITECTURE.md "Credentials"):
//   1. AVD_ARM_ACCESS_TOKEN: a pre-acquired ARM token (tests, `az account get-access-token`).
//   2. ARM_USE_DEFAULT_AZURE_CREDENTIAL=true: DefaultAzureCredential.
//   3. ARM_CLIENT_CERTIFICATE_PATH: service principal with a PEM certificate (+ ARM_CLIENT_CERTIFICATE_PASSWORD).
//   4. ARM_CLIENT_SECRET: service principal with a client secret.
//   5. ARM_USE_OIDC=true: workload identity federation with ARM_OIDC_TOKEN, ARM_OIDC_TOKEN_FILE_PATH,
//      or a GitHub Actions token from ARM_OIDC_REQUEST_URL/_TOKEN or ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN.
//   6. ARM_USE_MSI=true: managed identity (ARM_CLIENT_ID picks a user-assigned one).
//   7. otherwise DefaultAzureCredential (AZURE_* variables, workload/managed identity, az CLI).
// 2-6 follow the provider's own order and variable names (pulumi-azure-native
// provider/pkg/provider/auth_azidentity.go, newSingleMethodAuthCredential and readAuthConfig);
// ARM_ENVIRONMENT (public, usgovernment, china) picks the cloud as there, ARM_AUXILIARY_TENANT_IDS
// and ARM_DISABLE_INSTANCE_DISCOVERY likewise. Each scope's token is cached until shortly before it expires.
import { readFileSync } from "node:fs";
import type { Clock } from "./clock";
import { systemClock } from "./clock";

export const ARM_DEFAULT_ENDPOINT = "https://management.azure.com";
export const ARM_DEFAULT_SCOPE = "https://management.azure.com/.default";
export const STORAGE_SCOPE = "https://storage.azure.com/.default";

/** Refresh this long before expiry so a token never expires mid-request. */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

export interface TokenProvider {
    /** A bearer token for `scope`; throws CredentialError when none can be had. */
    getToken(scope: string): Promise<string>;
    /** Whether `getToken(scope)` can succeed at all (a static ARM token cannot serve Storage). */
    supports(scope: string): boolean;
}

export class CredentialError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "CredentialError";
    }
}

/** One pre-acquired token, valid for one scope only. */
export class StaticTokenProvider implements TokenProvider {
    constructor(
        private readonly token: string,
        private readonly scope: string,
    ) {}

    supports(scope: string): boolean {
        return scope === this.scope;
    }

    async getToken(scope: string): Promise<string> {
        if (!this.supports(scope)) {
            throw new CredentialError(`the pre-acquired access token is for ${this.scope}, not ${scope}`);
        }
        return this.token;
    }
}

interface AccessTokenLike {
    token: string;
    expiresOnTimestamp: number;
}

interface CredentialLike {
    getToken(scopes: string | string[]): Promise<AccessTokenLike | null>;
}

/** An @azure/identity credential, cached per scope; `describe` names the sign-in method in errors. */
export class CredentialTokenProvider implements TokenProvider {
    private credential?: CredentialLike;
    private factory?: () => Promise<CredentialLike>;
    private readonly cache = new Map<string, AccessTokenLike>();

    constructor(
        private readonly clock: Clock = systemClock,
        credential?: CredentialLike | (() => Promise<CredentialLike>),
        private readonly describe = "DefaultAzureCredential",
    ) {
        if (typeof credential === "function") this.factory = credential;
        else this.credential = credential;
    }

    supports(): boolean {
        return true;
    }

    async getToken(scope: string): Promise<string> {
        const cached = this.cache.get(scope);
        if (cached && cached.expiresOnTimestamp - REFRESH_MARGIN_MS > this.clock.now()) return cached.token;
        const credential = await this.load();
        let token: AccessTokenLike | null;
        try {
            token = await credential.getToken(scope);
        } catch (e) {
            throw new CredentialError(`could not get an Azure access token for ${scope} with ${this.describe} (${firstLine(e)}); ${SIGN_IN_HINT}`);
        }
        if (!token) throw new CredentialError(`${this.describe} produced no token for ${scope}; ${SIGN_IN_HINT}`);
        this.cache.set(scope, token);
        return token.token;
    }

    private async load(): Promise<CredentialLike> {
        if (!this.credential) {
            // Built on first use: tools that run with a pre-acquired token never load @azure/identity.
            this.credential = this.factory ? await this.factory() : new (await import("@azure/identity")).DefaultAzureCredential();
        }
        return this.credential;
    }
}

/** The name existing callers and tests know the DefaultAzureCredential provider by. */
export const DefaultCredentialTokenProvider = CredentialTokenProvider;

const SIGN_IN_HINT = 'check the ARM_* settings the azure-native provider uses (README "Credentials of the deploy-time tools"), or run "az login", and try again';

function firstLine(e: unknown): string {
    const message = e instanceof Error ? e.message : String(e);
    return message.split("\n")[0].trim();
}

/** The `.default` scope of an ARM endpoint: the public cloud's for management.azure.com, else the endpoint's own. */
export function armScopeFor(endpoint: string): string {
    const url = new URL(endpoint);
    if (url.hostname === "management.azure.com" || url.hostname === "127.0.0.1" || url.hostname === "localhost") return ARM_DEFAULT_SCOPE;
    return `${url.origin}/.default`;
}

/** The clouds the azure-native provider knows by ARM_ENVIRONMENT (its azure.GetCloudByName). */
const CLOUDS: Record<string, { authorityHost: string; resourceManager: string }> = {
    public: { authorityHost: "https://login.microsoftonline.com", resourceManager: ARM_DEFAULT_ENDPOINT },
    usgovernment: { authorityHost: "https://login.microsoftonline.us", resourceManager: "https://management.usgovcloudapi.net" },
    china: { authorityHost: "https://login.chinacloudapi.cn", resourceManager: "https://management.chinacloudapi.cn" },
};
const CLOUD_ALIASES: Record<string, string> = {
    "": "public",
    public: "public",
    azurecloud: "public",
    usgov: "usgovernment",
    usgovernment: "usgovernment",
    azureusgovernment: "usgovernment",
    azureusgovernmentcloud: "usgovernment",
    china: "china",
    azurechinacloud: "china",
};

function setting(env: NodeJS.ProcessEnv, name: string): string | undefined {
    const value = env[name]?.trim();
    return value ? value : undefined;
}

/** The provider turns a switch on only for "true"; anything but true/false is refused here, so both agree. */
function flag(env: NodeJS.ProcessEnv, name: string): boolean {
    const value = setting(env, name);
    if (value === undefined || value === "false") return false;
    if (value === "true") return true;
    throw new CredentialError(`${name} is "${value}"; set it to true or false (the azure-native provider reads only "true" as on)`);
}

/** The cloud named by ARM_ENVIRONMENT (or AZURE_ENVIRONMENT), public when unset. */
export function cloudFromEnvironment(env: NodeJS.ProcessEnv): { name: string; authorityHost: string; resourceManager: string } {
    const variable = setting(env, "ARM_ENVIRONMENT") !== undefined ? "ARM_ENVIRONMENT" : "AZURE_ENVIRONMENT";
    const raw = setting(env, variable) ?? "";
    const name = CLOUD_ALIASES[raw.toLowerCase()];
    if (!name) throw new CredentialError(`${variable} is "${raw}"; use public, usgovernment or china`);
    return { name, ...CLOUDS[name] };
}

/** The ARM endpoint of the configured cloud (AZURE_RESOURCE_MANAGER_ENDPOINT, when set, wins in ArmClient.fromEnvironment). */
export function armEndpointFromEnvironment(env: NodeJS.ProcessEnv): string {
    return cloudFromEnvironment(env).resourceManager;
}

/** Options every credential gets: the cloud's authority host (AZURE_AUTHORITY_HOST, @azure/identity's own override, wins). */
function identityOptions(env: NodeJS.ProcessEnv): { authorityHost: string; disableInstanceDiscovery: boolean; additionallyAllowedTenants: string[] } {
    const cloud = cloudFromEnvironment(env);
    const authorityHost = setting(env, "AZURE_AUTHORITY_HOST") ?? cloud.authorityHost;
    if (!authorityHost.startsWith("https://")) throw new CredentialError(`AZURE_AUTHORITY_HOST is "${authorityHost}"; Entra ID is only reached over https://`);
    return { authorityHost, disableInstanceDiscovery: flag(env, "ARM_DISABLE_INSTANCE_DISCOVERY"), additionallyAllowedTenants: auxiliaryTenants(env) };
}

function auxiliaryTenants(env: NodeJS.ProcessEnv): string[] {
    const raw = setting(env, "ARM_AUXILIARY_TENANT_IDS");
    if (raw === undefined) return [];
    let value: unknown;
    try {
        value = JSON.parse(raw);
    } catch {
        value = undefined;
    }
    if (!Array.isArray(value) || !value.every((t) => typeof t === "string")) {
        throw new CredentialError('ARM_AUXILIARY_TENANT_IDS is not a JSON list of tenant ids (as the provider reads it, e.g. ["<tenant-id>"])');
    }
    return value;
}

function requireSettings(env: NodeJS.ProcessEnv, method: string, names: string[]): string[] {
    const missing = names.filter((n) => setting(env, n) === undefined);
    if (missing.length > 0) throw new CredentialError(`${method} also needs ${missing.join(" and ")}`);
    return names.map((n) => setting(env, n) ?? "");
}

/** GitHub's OIDC token audience for Entra ID federation (the provider's default for ARM_OIDC_AUDIENCE). */
export const OIDC_DEFAULT_AUDIENCE = "api://AzureADTokenExchange";

/**
 * The federated token, fetched anew for every Entra ID token request: a GitHub token lives
 * minutes, and a projected token file is rotated, while a build can run for hours.
 */
function oidcAssertion(env: NodeJS.ProcessEnv, fetchImpl: typeof fetch): () => Promise<string> {
    const token = setting(env, "ARM_OIDC_TOKEN");
    if (token) return async () => token;
    const file = setting(env, "ARM_OIDC_TOKEN_FILE_PATH");
    if (file) {
        return async () => {
            try {
                return readFileSync(file, "utf8").trim();
            } catch (e) {
                throw new CredentialError(`ARM_OIDC_TOKEN_FILE_PATH ${file} cannot be read (${firstLine(e)})`);
            }
        };
    }
    const pair = [
        ["ARM_OIDC_REQUEST_URL", "ARM_OIDC_REQUEST_TOKEN"],
        ["ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
    ].find(([u, t]) => setting(env, u) && setting(env, t));
    if (!pair) {
        throw new CredentialError(
            "ARM_USE_OIDC is true but none of ARM_OIDC_TOKEN, ARM_OIDC_TOKEN_FILE_PATH, or ACTIONS_ID_TOKEN_REQUEST_URL with ACTIONS_ID_TOKEN_REQUEST_TOKEN is set (in GitHub Actions, give the job `permissions: id-token: write`)",
        );
    }
    const [urlName, tokenName] = pair;
    const requestUrl = setting(env, urlName) ?? "";
    const requestToken = setting(env, tokenName) ?? "";
    const audience = setting(env, "ARM_OIDC_AUDIENCE") ?? OIDC_DEFAULT_AUDIENCE;
    return async () => {
        const url = new URL(requestUrl);
        url.searchParams.set("audience", audience);
        let res: Response;
        try {
            res = await fetchImpl(url, { headers: { accept: "application/json", authorization: `Bearer ${requestToken}` }, signal: AbortSignal.timeout(30_000) });
        } catch (e) {
            throw new CredentialError(`the OIDC token request to ${urlName} failed (${firstLine(e)})`);
        }
        // The body is never echoed: it could hold a token.
        if (!res.ok) throw new CredentialError(`the OIDC token request to ${urlName} answered HTTP ${res.status}`);
        const body = (await res.json().catch(() => undefined)) as { value?: unknown } | undefined;
        if (typeof body?.value !== "string" || body.value === "") throw new CredentialError(`the OIDC token request to ${urlName} returned no token ("value")`);
        return body.value;
    };
}

/** Which sign-in the environment selects, validated now so a bad setting fails before any Azure call. */
export function tokenProviderFromEnvironment(env: NodeJS.ProcessEnv, endpoint: string, clock: Clock = systemClock, fetchImpl: typeof fetch = fetch): TokenProvider {
    const token = setting(env, "AVD_ARM_ACCESS_TOKEN");
    if (token) return new StaticTokenProvider(token, armScopeFor(endpoint));
    const options = identityOptions(env);
    const tenantId = setting(env, "ARM_TENANT_ID");
    const identity = () => import("@azure/identity");

    if (flag(env, "ARM_USE_DEFAULT_AZURE_CREDENTIAL")) {
        return new CredentialTokenProvider(clock, async () => new (await identity()).DefaultAzureCredential({ ...options, ...(tenantId ? { tenantId } : {}) }), "DefaultAzureCredential (ARM_USE_DEFAULT_AZURE_CREDENTIAL)");
    }
    if (setting(env, "ARM_CLIENT_CERTIFICATE_PATH")) {
        const [path, tenant, client] = requireSettings(env, "ARM_CLIENT_CERTIFICATE_PATH (a service principal with a certificate)", ["ARM_CLIENT_CERTIFICATE_PATH", "ARM_TENANT_ID", "ARM_CLIENT_ID"]);
        let pem: string;
        try {
            pem = readFileSync(path, "utf8");
        } catch (e) {
            throw new CredentialError(`ARM_CLIENT_CERTIFICATE_PATH ${path} cannot be read (${firstLine(e)})`);
        }
        // @azure/identity for JavaScript reads PEM only; the provider also takes PKCS#12.
        if (!pem.includes("-----BEGIN")) {
            throw new CredentialError(`ARM_CLIENT_CERTIFICATE_PATH ${path} is not PEM; convert a .pfx with "openssl pkcs12 -in cert.pfx -out cert.pem -nodes" and point ARM_CLIENT_CERTIFICATE_PATH at the .pem`);
        }
        const password = setting(env, "ARM_CLIENT_CERTIFICATE_PASSWORD");
        return new CredentialTokenProvider(
            clock,
            async () => new (await identity()).ClientCertificateCredential(tenant, client, { certificate: pem, ...(password ? { certificatePassword: password } : {}) }, options),
            "the service principal certificate (ARM_CLIENT_CERTIFICATE_PATH)",
        );
    }
    const secret = setting(env, "ARM_CLIENT_SECRET");
    if (secret) {
        const [tenant, client] = requireSettings(env, "ARM_CLIENT_SECRET (a service principal with a client secret)", ["ARM_TENANT_ID", "ARM_CLIENT_ID"]);
        return new CredentialTokenProvider(clock, async () => new (await identity()).ClientSecretCredential(tenant, client, secret, options), "the service principal secret (ARM_CLIENT_SECRET)");
    }
    if (flag(env, "ARM_USE_OIDC")) {
        const [tenant, client] = requireSettings(env, "ARM_USE_OIDC (workload identity federation)", ["ARM_TENANT_ID", "ARM_CLIENT_ID"]);
        const getAssertion = oidcAssertion(env, fetchImpl);
        return new CredentialTokenProvider(clock, async () => new (await identity()).ClientAssertionCredential(tenant, client, getAssertion, options), "OIDC federation (ARM_USE_OIDC)");
    }
    if (flag(env, "ARM_USE_MSI")) {
        const clientId = setting(env, "ARM_CLIENT_ID");
        return new CredentialTokenProvider(
            clock,
            async () => new (await identity()).ManagedIdentityCredential(clientId ? { clientId } : {}),
            clientId ? `the managed identity ${clientId} (ARM_USE_MSI)` : "the managed identity (ARM_USE_MSI)",
        );
    }
    return new CredentialTokenProvider(clock, async () => new (await identity()).DefaultAzureCredential({ ...options, ...(tenantId ? { tenantId } : {}) }));
}
