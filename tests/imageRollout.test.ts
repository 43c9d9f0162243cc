import { strict as assert } from "node:assert";
import { EvaluationError, type Evaluation, type RecordedResource } from "../preview/engine";
import { evaluateRollout, IMAGE_VERSION_ID, ringValues, SUBSCRIPTION, type Observed } from "./fixtures/rolloutRing";

function run(values: Record<string, unknown>, stdout?: string): Promise<Observed> {
    return evaluateRollout(values, { stdout });
}

function byName(e: Evaluation, name: string): RecordedResource {
    const r = e.resources.find((x) => x.name === name);
    assert.ok(r, `resource ${name} is registered (have: ${e.resources.map((x) => x.name).join(", ")})`);
    return r;
}

const VMSS_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-avd-prod/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-prod`;
const HOST_POOL_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-avd-prod/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-prod`;

describe("ImageRollout component", () => {
    it("in a Manual ring runs the drain-aware rollout after the scale set, then the health gate after the rollout", async () => {
        const { evaluation: e, dependsOn } = await run(ringValues("Manual"));
        const component = byName(e, "rollout");
        assert.equal(component.type, "avd-image-rings:rings:ImageRollout");
        const commands = e.resources.filter((r) => r.type === "command:local:Command");
        assert.deepEqual(commands.map((c) => c.name), ["rollout-drain-and-upgrade", "rollout-health-gate"]);
        for (const c of commands) assert.equal(c.parent, component.urn, `${c.name} is a child of the component`);

        const rollout = byName(e, "rollout-drain-and-upgrade");
        assert.equal(rollout.inputs.create, "node_modules/.bin/tsx tools/rollout.ts");
        assert.deepEqual(rollout.inputs.environment, {
            AVD_VMSS_ID: VMSS_ID,
            AVD_HOST_POOL_ID: HOST_POOL_ID,
            AVD_IMAGE_VERSION_ID: IMAGE_VERSION_ID,
            AVD_MAX_BATCH_PERCENT: "10",
            AVD_MAX_UNHEALTHY_PERCENT: "10",
            AVD_MAX_UNHEALTHY_UPGRADED_PERCENT: "5",
            AVD_PAUSE_BETWEEN_BATCHES: "PT15M",
            AVD_PRIORITIZE_UNHEALTHY: "true",
            AVD_DRAIN_TIMEOUT_MINUTES: "120",
            AVD_DRAIN_MESSAGE_TITLE: "Session host maintenance",
            AVD_DRAIN_MESSAGE_BODY: "This desktop is being updated tonight. Please save your work and sign out.",
            AVD_ROLLOUT_STRATEGY: "reimage",
            AVD_ROLLOUT_PACING: "host",
            AVD_FORCE_LOGOFF: "false",
            AVD_LOG_OFF_DISCONNECTED: "false",
        });
        assert.deepEqual(rollout.inputs.triggers, [IMAGE_VERSION_ID], "re-runs only when the image version changes");

        const gate = byName(e, "rollout-health-gate");
        assert.equal(gate.inputs.create, "node_modules/.bin/tsx tools/healthGate.ts");
        assert.deepEqual(gate.inputs.environment, {
            AVD_VMSS_ID: VMSS_ID,
            AVD_HOST_POOL_ID: HOST_POOL_ID,
            AVD_IMAGE_VERSION_ID: IMAGE_VERSION_ID,
            AVD_UPGRADE_MODE: "Manual",
            AVD_MAX_LOGIN_SECONDS: "30",
            AVD_LOGIN_PROBE: "false",
            AVD_MAX_CPU_PERCENT: "80",
            AVD_MIN_FREE_MEMORY_PERCENT: "20",
            AVD_CHECK_FSLOGIX: "true",
            AVD_GATE_TIMEOUT_MINUTES: "60",
            AVD_PROBE_TIMEOUT_MINUTES: "10",
        });
        assert.deepEqual(gate.inputs.triggers, [IMAGE_VERSION_ID]);

        assert.deepEqual(dependsOn.get("rollout-drain-and-upgrade"), ["vmss"], "the rollout starts after the model update");
        assert.deepEqual(dependsOn.get("rollout-health-gate"), ["rollout-drain-and-upgrade"], "the gate validates after the rollout");
        assert.equal(e.outputs.validatedImageVersion, "1.2.0", "parsed from the gate's result");
    });

    it("in a Rolling ring runs only the health gate, after the scale set, waiting for Azure's rolling upgrade", async () => {
        const { evaluation: e, dependsOn } = await run(ringValues("Rolling"));
        const commands = e.resources.filter((r) => r.type === "command:local:Command");
        assert.deepEqual(commands.map((c) => c.name), ["rollout-health-gate"]);
        const env = commands[0].inputs.environment as Record<string, string>;
        assert.equal(env.AVD_UPGRADE_MODE, "Rolling");
        assert.equal(env.AVD_GATE_TIMEOUT_MINUTES, String(10 * (20 + 15) + 30), "long enough for 10 batches of 10% with a 15 min pause");
        assert.deepEqual(dependsOn.get("rollout-health-gate"), ["vmss"]);
        assert.equal(e.outputs.validatedImageVersion, "1.2.0");
    });

    it("keeps secrets out of the commands' environment and never signs users out without a message", async () => {
        const { evaluation: e } = await run(ringValues("Manual", { drain: { timeoutMinutes: 30 }, domainJoin: { type: "EntraID" } }));
        for (const c of e.resources.filter((r) => r.type === "command:local:Command")) {
            assert.ok(!JSON.stringify(c.inputs).includes("[secret]"), `${c.name} has no secret input`);
        }
        const env = byName(e, "rollout-drain-and-upgrade").inputs.environment as Record<string, string>;
        assert.equal(env.AVD_FORCE_LOGOFF, "false");
        assert.equal(env.AVD_DRAIN_MESSAGE_BODY, undefined);
        assert.equal(env.AVD_DRAIN_MESSAGE_TITLE, undefined);
    });

    it("passes forced logoff through only together with the message that warns users", async () => {
        const { evaluation: e } = await run(ringValues("Manual", { drain: { timeoutMinutes: 45, messageBody: "Please sign out.", forceLogoffAfterTimeout: true } }));
        const env = byName(e, "rollout-drain-and-upgrade").inputs.environment as Record<string, string>;
        assert.equal(env.AVD_FORCE_LOGOFF, "true");
        assert.equal(env.AVD_DRAIN_MESSAGE_BODY, "Please sign out.");
        assert.equal(env.AVD_DRAIN_TIMEOUT_MINUTES, "45");
    });

    it("passes the time box and the opt-in for signing out Disconnected sessions to the rollout", async () => {
        const { evaluation: e } = await run(ringValues("Manual", { rollout: { maxRunMinutes: 300 }, drain: { timeoutMinutes: 45, messageBody: "Please sign out.", logOffDisconnectedSessions: true } }));
        const env = byName(e, "rollout-drain-and-upgrade").inputs.environment as Record<string, string>;
        assert.equal(env.AVD_MAX_RUN_MINUTES, "300");
        assert.equal(env.AVD_LOG_OFF_DISCONNECTED, "true");
        const plain = byName((await run(ringValues("Manual"))).evaluation, "rollout-drain-and-upgrade").inputs.environment as Record<string, string>;
        assert.equal(plain.AVD_MAX_RUN_MINUTES, undefined, "no time box unless configured");
    });

    it("fails the deployment when the gate validated a different version than the ring runs", async () => {
        const stdout = JSON.stringify({ validatedImageVersion: "1.1.0", imageVersionId: IMAGE_VERSION_ID.replace("1.2.0", "1.1.0"), hostsChecked: 2, hostsPassed: 2 });
        await assert.rejects(run(ringValues("Rolling"), stdout), (err: unknown) => {
            assert.ok(err instanceof EvaluationError);
            assert.match(err.message, /the health gate validated image version 1\.1\.0, but this ring runs 1\.2\.0/);
            return true;
        });
    });
});
