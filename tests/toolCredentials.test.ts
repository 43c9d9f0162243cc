import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import * as tls from "node:tls";
import { readFileSync } from "node:fs";
import { ArmClient, ArmError } from "../tools/azure/arm";
import { CredentialError, OIDC_DEFAULT_AUDIENCE, STORAGE_SCOPE } from "../tools/azure/credentials";
import { COMPUTE_API_VERSION } from "../tools/rollout/azure";
import { ComputeModule } from "./fakeAzure/compute";
import { FAKE_SUBSCRIPTION_ID, FAKE_TENANT_ID, startFakeAzure, type FakeAzure } from "./fakeAzure/server";
import { startTokenEndpoint, TEST_CERTIFICATE_PEM_PATH, TOKEN_ENDPOINT_CA_PATH, type TokenEndpoint } from "./fakeAzure/tokenEndpoint";

const VMSS = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-test/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-test`;
const CLIENT_ID = "3f2c1a9e-5b7d-4e21-9a0c-6d8e4f1b2a73";
const CLIENT_SECRET = "s3cr3t~client~secret~value";
const GITHUB_REQUEST_TOKEN = "github-actions-request-token-value";
const ARM_TOKEN = "arm-token-for-the-service-principal";

describe("deploy-time tools sign in with the azure-native provider's credentials", function () {
    this.timeout(30_000);
    let entra: TokenEndpoint;
    let fake: FakeAzure;
    const defaultCas = tls.getCACertificates("default");

    before(async () => {
        // The local token endpoint is HTTPS (MSAL accepts no other authority): trust its certificate in this process.
        tls.setDefaultCACertificates([...defaultCas, readFileSync(TOKEN_ENDPOINT_CA_PATH, "utf8")]);
        entra = await startTokenEndpoint({
            githubRequestToken: GITHUB_REQUEST_TOKEN,
            apps: [{ tenantId: FAKE_TENANT_ID, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, certificatePem: readFileSync(TEST_CERTIFICATE_PEM_PATH, "utf8"), federatedAudience: OIDC_DEFAULT_AUDIENCE, accessToken: ARM_TOKEN }],
        });
        const compute = new ComputeModule({});
        fake = await startFakeAzure({ acceptToken: ARM_TOKEN }, [compute]);
        compute.addScaleSet({ id: VMSS, capacity: 1, imageReferenceId: "/subscriptions/x/resourceGroups/g/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0", computerNamePrefix: "avdtst" });
    });
    after(async () => {
        await entra.stop();
        await fake.stop();
        tls.setDefaultCACertificates(defaultCas);
    });
    beforeEach(() => entra.issued.splice(0));

    /** What the provider's pipeline hands `pulumi up` (and so every command it runs), pointed at the local endpoints. */
    function providerEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
        return { AZURE_RESOURCE_MANAGER_ENDPOINT: fake.url, AZURE_AUTHORITY_HOST: entra.url, ARM_DISABLE_INSTANCE_DISCOVERY: "true", ARM_TENANT_ID: FAKE_TENANT_ID, ARM_CLIENT_ID: CLIENT_ID, ARM_SUBSCRIPTION_ID: FAKE_SUBSCRIPTION_ID, ...extra };
    }

    async function readScaleSet(env: NodeJS.ProcessEnv): Promise<string> {
        const arm = ArmClient.fromEnvironment(env, { retry: { maxAttempts: 1 } });
        const body = (await arm.get(VMSS, { apiVersion: COMPUTE_API_VERSION })) as { id: string };
        return body.id;
    }

    it("a service principal with ARM_CLIENT_SECRET gets an ARM token the fake ARM accepts", async () => {
        assert.equal(await readScaleSet(providerEnv({ ARM_CLIENT_SECRET: CLIENT_SECRET })), VMSS);
        assert.deepEqual(entra.issued, [{ tenantId: FAKE_TENANT_ID, clientId: CLIENT_ID, scope: "https://management.azure.com/.default", method: "client_secret" }]);
    });

    it("OIDC federation requests GitHub's token for api://AzureADTokenExchange and exchanges it", async () => {
        const env = providerEnv({ ARM_USE_OIDC: "true", ACTIONS_ID_TOKEN_REQUEST_URL: entra.githubRequestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: GITHUB_REQUEST_TOKEN });
        entra.githubAudiences.splice(0);
        assert.equal(await readScaleSet(env), VMSS);
        assert.ok(entra.githubAudiences.length > 0 && entra.githubAudiences.every((a) => a === OIDC_DEFAULT_AUDIENCE), entra.githubAudiences.join());
        assert.deepEqual(entra.issued.map((r) => r.method), ["client_assertion"]);
    });

    it("a service principal certificate (ARM_CLIENT_CERTIFICATE_PATH, PEM) signs a client assertion Entra ID verifies", async () => {
        assert.equal(await readScaleSet(providerEnv({ ARM_CLIENT_CERTIFICATE_PATH: TEST_CERTIFICATE_PEM_PATH })), VMSS);
        assert.deepEqual(entra.issued.map((r) => r.method), ["client_assertion"]);
    });

    it("the same credential also serves the Storage scope the build tool reads logs with", async () => {
        const arm = ArmClient.fromEnvironment(providerEnv({ ARM_CLIENT_SECRET: CLIENT_SECRET }));
        assert.equal(arm.tokenProvider.supports(STORAGE_SCOPE), true);
        assert.equal(await arm.tokenProvider.getToken(STORAGE_SCOPE), ARM_TOKEN);
        assert.deepEqual(entra.issued.map((r) => r.scope), [STORAGE_SCOPE]);
    });

    it("a wrong client secret fails with Entra ID's reason and never prints the secret", async () => {
        const wrong = "wrong~secret~value";
        await assert.rejects(readScaleSet(providerEnv({ ARM_CLIENT_SECRET: wrong })), (e: unknown) => {
            assert.ok(e instanceof CredentialError);
            assert.match(e.message, /ARM_CLIENT_SECRET/);
            assert.match(e.message, /AADSTS7000215/);
            assert.ok(!e.message.includes(wrong));
            return true;
        });
    });

    it("a token Entra ID issued to another app is refused by ARM (the fake accepts only the service principal's)", async () => {
        await assert.rejects(readScaleSet({ AZURE_RESOURCE_MANAGER_ENDPOINT: fake.url, AVD_ARM_ACCESS_TOKEN: "someone-elses-token" }), (e: unknown) => e instanceof ArmError && e.status === 401);
    });

    const badSettings: [string, NodeJS.ProcessEnv, RegExp][] = [
        ["ARM_USE_OIDC without any token source", { ARM_USE_OIDC: "true" }, /ARM_USE_OIDC is true but none of ARM_OIDC_TOKEN, ARM_OIDC_TOKEN_FILE_PATH, or ACTIONS_ID_TOKEN_REQUEST_URL/],
        ["a client secret without ARM_TENANT_ID", { ARM_CLIENT_SECRET: CLIENT_SECRET, ARM_TENANT_ID: "" }, /ARM_CLIENT_SECRET .* also needs ARM_TENANT_ID/],
        ["ARM_USE_MSI that is not true/false", { ARM_USE_MSI: "yes" }, /ARM_USE_MSI is "yes"; set it to true or false/],
        ["an unknown ARM_ENVIRONMENT", { ARM_ENVIRONMENT: "germany" }, /ARM_ENVIRONMENT is "germany"; use public, usgovernment or china/],
        ["a certificate file that is not PEM", { ARM_CLIENT_CERTIFICATE_PATH: `${__dirname}/../package.json` }, /ARM_CLIENT_CERTIFICATE_PATH .* is not PEM; convert a .pfx/],
        ["a certificate file that does not exist", { ARM_CLIENT_CERTIFICATE_PATH: "/nonexistent/sp.pem" }, /ARM_CLIENT_CERTIFICATE_PATH \/nonexistent\/sp.pem cannot be read/],
    ];
    for (const [what, extra, message] of badSettings) {
        it(`${what} gives one clear error naming the variable`, () => {
            assert.throws(() => ArmClient.fromEnvironment(providerEnv(extra)), (e: unknown) => e instanceof CredentialError && message.test(e.message) && !e.message.includes(CLIENT_SECRET));
        });
    }

    it("ARM_ENVIRONMENT picks the sovereign cloud's ARM endpoint", () => {
        assert.equal(ArmClient.fromEnvironment({ ARM_ENVIRONMENT: "usgovernment", AVD_ARM_ACCESS_TOKEN: "t" }).endpoint, "https://management.usgovcloudapi.net");
        assert.equal(ArmClient.fromEnvironment({ ARM_ENVIRONMENT: "china", AVD_ARM_ACCESS_TOKEN: "t" }).endpoint, "https://management.chinacloudapi.cn");
    });

    /** The health gate exactly as its command resource runs it, in a subprocess that trusts the local token endpoint. */
    function spawnHealthGate(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
        const cwd = path.resolve(__dirname, "..");
        return new Promise((resolve, reject) => {
            const child = spawn(path.join(cwd, "node_modules", ".bin", "tsx"), ["tools/healthGate.ts"], {
                cwd,
                env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_EXTRA_CA_CERTS: TOKEN_ENDPOINT_CA_PATH, ...env },
            });
            let output = "";
            child.stdout.on("data", (d: Buffer) => (output += d.toString()));
            child.stderr.on("data", (d: Buffer) => (output += d.toString()));
            child.on("error", reject);
            child.on("close", (code) => resolve({ code, output }));
        });
    }

    const GATE_INPUTS = {
        AVD_VMSS_ID: VMSS,
        AVD_HOST_POOL_ID: `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-test/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-test`,
        AVD_IMAGE_VERSION_ID: "/subscriptions/x/resourceGroups/g/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0",
        AVD_UPGRADE_MODE: "Manual",
        AVD_GATE_TIMEOUT_MINUTES: "1",
        AVD_POLL_SECONDS: "0.05",
    };

    it("the health gate CLI signs in through GitHub's OIDC variables and ARM accepts its token; no token is printed", async () => {
        fake.requests.splice(0);
        const env = providerEnv({ ...GATE_INPUTS, ARM_USE_OIDC: "true", ACTIONS_ID_TOKEN_REQUEST_URL: entra.githubRequestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: GITHUB_REQUEST_TOKEN });
        const run = await spawnHealthGate(env);
        assert.ok(entra.issued.some((r) => r.method === "client_assertion" && r.clientId === CLIENT_ID), run.output);
        assert.ok(fake.requests.length > 0, "the gate called ARM");
        assert.ok(fake.requests.every((r) => r.status !== 401), `ARM accepted every call: ${run.output}`);
        for (const secret of [GITHUB_REQUEST_TOKEN, ARM_TOKEN, "gh-oidc-"]) assert.ok(!run.output.includes(secret), `output never shows ${secret}`);
    });

    it("the health gate CLI with a wrong client secret exits 1 with one error naming ARM_CLIENT_SECRET and never shows it", async () => {
        const wrong = "wrong~secret~for~the~cli";
        const run = await spawnHealthGate(providerEnv({ ...GATE_INPUTS, ARM_CLIENT_SECRET: wrong }));
        assert.equal(run.code, 1, run.output);
        assert.match(run.output, /^Error: could not get an Azure access token .* \(ARM_CLIENT_SECRET\)/m);
        assert.ok(!run.output.includes(wrong));
    });
});
