import { strict as assert } from "node:assert";
import * as compute from "@pulumi/azure-native/compute";
import * as desktopvirtualization from "@pulumi/azure-native/desktopvirtualization";
import * as pulumi from "@pulumi/pulumi";
import { ImageRollout } from "../components/imageRollout";
import { evaluate, type Evaluation, type RecordedResource } from "../preview/engine";
import { parseRingConfig } from "../src/config/parse";
import { providerCredentialEnvironment } from "../src/tools/providerCredentials";
import { IMAGE_VERSION_ID, ringValues, simulation, SUBSCRIPTION, type Observed } from "./fixtures/rolloutRing";

const CLIENT_SECRET = "stack-config-client-secret-value";
const CLIENT_ID = "3f2c1a9e-5b7d-4e21-9a0c-6d8e4f1b2a73";
const TENANT_ID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";

async function run(values: Record<string, unknown>, config: Record<string, string>, secretKeys: string[], stdout?: string): Promise<Observed> {
    const names = new Map<pulumi.Resource, string>();
    const explicit = new Map<string, pulumi.Resource[]>();
    const evaluation = await evaluate({
        project: "avd-image-rings",
        stack: "prod",
        config,
        secretKeys,
        simulation: simulation(stdout),
        program: async () => {
            pulumi.runtime.registerStackTransformation((args) => {
                names.set(args.resource, args.name);
                const deps: unknown = args.opts.dependsOn;
                const list: unknown[] = deps === undefined ? [] : Array.isArray(deps) ? deps : [deps];
                explicit.set(args.name, list.filter((d): d is pulumi.Resource => pulumi.Resource.isInstance(d)));
                return undefined;
            });
            const ring = parseRingConfig({ stack: "prod", values, secret: () => undefined });
            const vmss = new compute.VirtualMachineScaleSet("vmss", { resourceGroupName: "rg-avd-prod", vmScaleSetName: "vmss-avd-prod" });
            const pool = new desktopvirtualization.HostPool("pool", {
                resourceGroupName: "rg-avd-prod",
                hostPoolName: "vdpool-avd-prod",
                hostPoolType: "Pooled",
                loadBalancerType: "BreadthFirst",
                preferredAppGroupType: "Desktop",
            });
            const rollout = new ImageRollout(
                "rollout",
                { ring, vmssId: vmss.id, hostPoolId: pool.id, imageVersionId: IMAGE_VERSION_ID, imageVersion: ring.imageVersion },
                { dependsOn: [vmss] },
            );
            return { validatedImageVersion: rollout.validatedImageVersion };
        },
    });
    const dependsOn = new Map([...explicit].map(([name, deps]) => [name, deps.map((d) => names.get(d) ?? "?")]));
    return { evaluation, dependsOn };
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
