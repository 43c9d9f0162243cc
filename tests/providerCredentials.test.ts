import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import type { Evaluation, RecordedResource } from "../preview/engine";
import { providerCredentialEnvironment } from "../src/tools/providerCredentials";
import { evaluateRollout, ringValues, SUBSCRIPTION, type Observed } from "./fixtures/rolloutRing";

const CLIENT_SECRET = "stack-config-client-secret-value";
const CLIENT_ID = "3f2c1a9e-5b7d-4e21-9a0c-6d8e4f1b2a73";
const TENANT_ID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";

function run(values: Record<string, unknown>, config: Record<string, string>, secretKeys: string[]): Promise<Observed> {
    return evaluateRollout(values, { config, secretKeys });
}

function byName(e: Evaluation, name: string): RecordedResource {
    const r = e.resources.find((x) => x.name === name);
    assert.ok(r, `resource ${name} is registered`);
    return r;
}

function fakeConfig(values: Record<string, string>) {
    return {
        get: (key: string) => values[key],
        getSecret: (key: string) => (values[key] === undefined ? undefined : pulumi.output(values[key])),
    };
}

async function settled<T>(o: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
    const secret = await pulumi.isSecret(o);
    const value = await new Promise<T>((resolve) => o.apply((v) => resolve(v)));
    return { value, secret };
}

describe("the azure-native provider's stack-config credentials reach the deploy-time commands", () => {
    it("maps each azure-native credential key to the provider's ARM_* variable, secrets as Pulumi secrets", async () => {
        const env = providerCredentialEnvironment(
            fakeConfig({ clientId: CLIENT_ID, tenantId: TENANT_ID, subscriptionId: SUBSCRIPTION, clientSecret: CLIENT_SECRET, useOidc: "true", oidcRequestUrl: "https://token.actions.example/x", environment: "usgovernment", location: "westeurope" }),
        );
        assert.deepEqual(Object.keys(env).sort(), ["ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_ENVIRONMENT", "ARM_OIDC_REQUEST_URL", "ARM_SUBSCRIPTION_ID", "ARM_TENANT_ID", "ARM_USE_OIDC"]);
        assert.equal(env.ARM_CLIENT_ID, CLIENT_ID);
        assert.equal(env.ARM_ENVIRONMENT, "usgovernment");
        const secret = await settled(pulumi.output(env.ARM_CLIENT_SECRET));
        assert.deepEqual(secret, { value: CLIENT_SECRET, secret: true });
    });

    it("adds nothing when the stack config has no azure-native credential setting", () => {
        assert.deepEqual(providerCredentialEnvironment(fakeConfig({ location: "westeurope" })), {});
    });

    it("hands the rollout and the gate the secret as [secret], never its value, next to ARM_CLIENT_ID", async () => {
        const config = { "azure-native:clientId": CLIENT_ID, "azure-native:tenantId": TENANT_ID, "azure-native:clientSecret": CLIENT_SECRET };
        const { evaluation } = await run(ringValues("Manual"), config, ["azure-native:clientSecret"]);
        for (const name of ["rollout-drain-and-upgrade", "rollout-health-gate"]) {
            const inputs = JSON.stringify(byName(evaluation, name).inputs);
            assert.ok(inputs.includes("[secret]"), `${name}'s environment is secret: ${inputs}`);
            assert.ok(!inputs.includes(CLIENT_SECRET), `${name} never shows the client secret`);
        }
        assert.ok(!JSON.stringify(evaluation).includes(CLIENT_SECRET), "nothing in the evaluation shows the client secret");
    });

    it("leaves the commands' environments plain when the provider is configured through inherited variables", async () => {
        const { evaluation } = await run(ringValues("Manual"), {}, []);
        const env = byName(evaluation, "rollout-health-gate").inputs.environment as Record<string, string>;
        assert.equal(typeof env, "object");
        assert.equal(Object.keys(env).some((k) => k.startsWith("ARM_")), false);
        assert.equal(env.AVD_UPGRADE_MODE, "Manual");
    });
});
