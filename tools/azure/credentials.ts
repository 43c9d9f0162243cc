// Bearer tokens for ARM (and, where a tool needs it, Azure Storage). A pre-acquired token
// from AVD_ARM_ACCESS_TOKEN wins (CI, `az account get-access-token`, the tests' fake);
// otherwise DefaultAzureCredential, with each scope's token cached until shortly before
// it expires.
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

/** DefaultAzureCredential (Azure CLI login, managed identity, environment, ...), cached per scope. */
export class DefaultCredentialTokenProvider implements TokenProvider {
    private credential?: CredentialLike;
    private readonly cache = new Map<string, AccessTokenLike>();

    constructor(
        private readonly clock: Clock = systemClock,
        credential?: CredentialLike,
    ) {
        this.credential = credential;
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
            throw new CredentialError(
                `could not get an Azure access token for ${scope} (${firstLine(e)}); run "az login" (or set AVD_ARM_ACCESS_TOKEN) and try again`,
            );
        }
        if (!token) throw new CredentialError(`no Azure credential produced a token for ${scope}; run "az login" and try again`);
        this.cache.set(scope, token);
        return token.token;
    }

    private async load(): Promise<CredentialLike> {
        if (!this.credential) {
            // Loaded on first use: tools that run with a pre-acquired token never pay for it.
            const identity = await import("@azure/identity");
            this.credential = new identity.DefaultAzureCredential();
        }
        return this.credential;
    }
}

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

export function tokenProviderFromEnvironment(env: NodeJS.ProcessEnv, endpoint: string, clock: Clock = systemClock): TokenProvider {
    const token = env.AVD_ARM_ACCESS_TOKEN?.trim();
    if (token) return new StaticTokenProvider(token, armScopeFor(endpoint));
    return new DefaultCredentialTokenProvider(clock);
}
