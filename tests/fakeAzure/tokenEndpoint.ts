// A local Microsoft Entra ID (v2.0 endpoints) and GitHub Actions OIDC token service on 127.0.0.1,
// for the credential tests. HTTPS with tests/fixtures/tokenEndpoint's self-signed certificate,
// because MSAL refuses any authority that is not https:// (trust it with NODE_EXTRA_CA_CERTS in
// a subprocess or tls.setDefaultCACertificates in-process). It serves what @azure/identity calls
// with disableInstanceDiscovery: the tenant's openid-configuration and the client_credentials
// grant with a client secret or a client assertion (a federated token it issued, or a JWT signed
// with a registered certificate), answering errors in Entra ID's shape (AADSTS codes).
import { constants, createPublicKey, createVerify, randomUUID, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

const FIXTURES = path.resolve(__dirname, "..", "fixtures", "tokenEndpoint");
/** The endpoint's TLS certificate (PEM): the CA a client must trust. */
export const TOKEN_ENDPOINT_CA_PATH = path.join(FIXTURES, "localhost.crt");
/** Its key and certificate in one PEM, usable as a service principal certificate too. */
export const TEST_CERTIFICATE_PEM_PATH = path.join(FIXTURES, "localhost.pem");

export interface AppRegistration {
    tenantId: string;
    clientId: string;
    /** Accepted client secret. */
    clientSecret?: string;
    /** Accepted certificate (PEM): client assertions signed with its key. */
    certificatePem?: string;
    /** Federated credential: tokens the fake's GitHub endpoint issued for this audience. */
    federatedAudience?: string;
    /** The ARM access token issued to this app. */
    accessToken: string;
}

export interface TokenRequestRecord {
    tenantId: string;
    clientId: string;
    scope: string;
    method: "client_secret" | "client_assertion";
}

export interface TokenEndpoint {
    /** The authority host: https://127.0.0.1:<port>. */
    url: string;
    /** The GitHub Actions ID-token request URL (ACTIONS_ID_TOKEN_REQUEST_URL). */
    githubRequestUrl: string;
    /** Every token request that got a token. */
    issued: TokenRequestRecord[];
    /** The audiences GitHub OIDC tokens were requested for. */
    githubAudiences: string[];
    stop(): Promise<void>;
}

export interface TokenEndpointOptions {
    apps: AppRegistration[];
    /** ACTIONS_ID_TOKEN_REQUEST_TOKEN the GitHub endpoint accepts. */
    githubRequestToken?: string;
}

export async function startTokenEndpoint(options: TokenEndpointOptions): Promise<TokenEndpoint> {
    const issuedGithubTokens = new Map<string, string>(); // token -> audience
    const issued: TokenRequestRecord[] = [];
    const githubAudiences: string[] = [];
    let base = "";
    const server = https.createServer({ key: readFileSync(path.join(FIXTURES, "localhost.key")), cert: readFileSync(TOKEN_ENDPOINT_CA_PATH) }, (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const url = new URL(req.url ?? "/", base);
            const send = (status: number, body: unknown) => {
                res.writeHead(status, { "content-type": "application/json" });
                res.end(JSON.stringify(body));
            };
            const aadError = (status: number, error: string, code: number, description: string) =>
                send(status, { error, error_description: `AADSTS${code}: ${description}`, error_codes: [code], timestamp: new Date().toISOString(), trace_id: randomUUID(), correlation_id: randomUUID() });

            if (req.method === "GET" && url.pathname === "/github/token") {
                if (req.headers.authorization !== `Bearer ${options.githubRequestToken}`) return send(401, { message: "Bad credentials" });
                const audience = url.searchParams.get("audience") ?? "";
                githubAudiences.push(audience);
                const value = `gh-oidc-${randomUUID()}`;
                issuedGithubTokens.set(value, audience);
                return send(200, { count: 1, value });
            }
            const discovery = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(url.pathname);
            if (req.method === "GET" && discovery) {
                const t = discovery[1];
                return send(200, {
                    token_endpoint: `${base}/${t}/oauth2/v2.0/token`,
                    authorization_endpoint: `${base}/${t}/oauth2/v2.0/authorize`,
                    device_authorization_endpoint: `${base}/${t}/oauth2/v2.0/devicecode`,
                    end_session_endpoint: `${base}/${t}/oauth2/v2.0/logout`,
                    jwks_uri: `${base}/${t}/discovery/v2.0/keys`,
                    issuer: `${base}/${t}/v2.0`,
                    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
                    scopes_supported: ["openid", "profile", "email", "offline_access"],
                    tenant_region_scope: "EU",
                    cloud_instance_name: "microsoftonline.com",
                });
            }
            const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
            if (req.method === "POST" && token) {
                const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
                const tenantId = token[1];
                const clientId = form.get("client_id") ?? "";
                const scope = form.get("scope") ?? "";
                if (form.get("grant_type") !== "client_credentials") return aadError(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
                const app = options.apps.find((a) => a.tenantId === tenantId && a.clientId === clientId);
                if (!app) return aadError(400, "unauthorized_client", 700016, `Application with identifier '${clientId}' was not found in the directory '${tenantId}'.`);
                let method: TokenRequestRecord["method"];
                const assertion = form.get("client_assertion");
                if (form.get("client_secret") !== null) {
                    if (form.get("client_secret") !== app.clientSecret) return aadError(401, "invalid_client", 7000215, "Invalid client secret provided.");
                    method = "client_secret";
                } else if (assertion !== null && form.get("client_assertion_type") === "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
                    if (!assertionAccepted(app, assertion, issuedGithubTokens, `${base}/${tenantId}/oauth2/v2.0/token`)) {
                        return aadError(400, "invalid_client", 700213, "No matching federated identity record found for presented assertion.");
                    }
                    method = "client_assertion";
                } else {
                    return aadError(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
                }
                if (!scope.endsWith("/.default")) return aadError(400, "invalid_scope", 1002012, `The provided value for scope ${scope} is not valid.`);
                issued.push({ tenantId, clientId, scope, method });
                return send(200, { token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: app.accessToken });
            }
            send(404, { error: "not_found" });
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
        url: base,
        githubRequestUrl: `${base}/github/token?api-version=2.0`,
        issued,
        githubAudiences,
        stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
}

/** A federated token this fake issued for the app's audience, or a JWT signed with the app's certificate for this token endpoint. */
function assertionAccepted(app: AppRegistration, assertion: string, github: Map<string, string>, audience: string): boolean {
    if (app.federatedAudience !== undefined && github.get(assertion) === app.federatedAudience) return true;
    if (!app.certificatePem) return false;
    const [header, payload, signature] = assertion.split(".");
    if (!header || !payload || !signature) return false;
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { aud?: string; iss?: string; sub?: string; exp?: number };
    if (claims.aud !== audience || claims.iss !== app.clientId || claims.sub !== app.clientId || (claims.exp ?? 0) * 1000 < Date.now()) return false;
    const alg = (JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as { alg?: string }).alg;
    const key = createPublicKey(new X509Certificate(app.certificatePem).publicKey.export({ type: "spki", format: "pem" }));
    const verify = createVerify("RSA-SHA256");
    verify.update(`${header}.${payload}`);
    const opts = alg === "PS256" ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : { key };
    return verify.verify(opts, Buffer.from(signature, "base64url"));
}
