import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { main, type GateResult } from "../tools/healthGate";
import { VirtualClock } from "../tools/azure/clock";
import { HEALTH_CHECK_SCRIPT } from "../tools/rollout/healthGateRunner";
import { ComputeModule, type UpgradeMode } from "./fakeAzure/compute";
import { DesktopVirtualizationModule } from "./fakeAzure/desktopVirtualization";
import { RunCommandModule, type RunCommandInput } from "./fakeAzure/runCommand";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure } from "./fakeAzure/server";

const RG = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-pilot`;
const VMSS = `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-pilot`;
const HOST_POOL = `${RG}/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-pilot`;
const DEFINITION = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365`;
const OLD = `${DEFINITION}/versions/1.1.0`;
const NEW = `${DEFINITION}/versions/1.2.0`;
const TOKEN = "health-gate-test-token";

/** What HealthCheck.ps1 prints on a healthy host. */
function healthyFacts(computerName: string): Record<string, unknown> {
    return {
        computerName,
        domainJoined: false,
        entraJoined: true,
        services: { RDAgent: "Running", RDAgentBootLoader: "Running", frxsvc: "Running" },
        cpuPercent: 12.5,
        freeMemoryPercent: 61.2,
        lastLogon: null,
        bootTime: "2026-01-12T08:00:00.0000000Z",
    };
}

interface World {
    clock: VirtualClock;
    fake: FakeAzure;
    compute: ComputeModule;
    dv: DesktopVirtualizationModule;
    rc: RunCommandModule;
    /** Per-instance changes to the healthy facts; a function sees how often the host was probed. */
    facts: Map<string, (probe: number) => Record<string, unknown>>;
}

interface Run {
    code: number;
    stdout: string[];
    stderr: string[];
    result?: GateResult;
}

async function world(capacity: number, mode: UpgradeMode, onNewImage = true): Promise<World> {
    const clock = new VirtualClock();
    const facts = new Map<string, (probe: number) => Record<string, unknown>>();
    const probes = new Map<string, number>();
    const compute = new ComputeModule();
    const rc = new RunCommandModule(compute, {
        defaultRunCommand: (input: RunCommandInput) => {
            const n = (probes.get(input.instanceId) ?? 0) + 1;
            probes.set(input.instanceId, n);
            const extra = facts.get(input.instanceId)?.(n) ?? {};
            return { stdout: `Collecting facts...\n${JSON.stringify({ ...healthyFacts(input.computerName), ...extra })}` };
        },
    });
    const dv = new DesktopVirtualizationModule({ compute });
    const fake = await startFakeAzure({ clock, acceptToken: TOKEN }, [compute, rc, dv]);
    compute.addScaleSet({
        id: VMSS,
        capacity,
        imageReferenceId: onNewImage ? NEW : OLD,
        zones: ["1", "2", "3"],
        computerNamePrefix: "avdplt",
        upgradeMode: mode,
        rollingUpgradePolicy: { maxBatchInstancePercent: 10, maxUnhealthyUpgradedInstancePercent: 20, pauseTimeBetweenBatches: "PT2M" },
    });
    dv.addHostPool({ id: HOST_POOL, scaleSetId: VMSS });
    return { clock, fake, compute, dv, rc, facts };
}

async function gate(w: World, extra: Record<string, string | undefined> = {}): Promise<Run> {
    const env: NodeJS.ProcessEnv = {
        AZURE_RESOURCE_MANAGER_ENDPOINT: w.fake.url,
        AVD_ARM_ACCESS_TOKEN: TOKEN,
        AVD_VMSS_ID: VMSS,
        AVD_HOST_POOL_ID: HOST_POOL,
        AVD_IMAGE_VERSION_ID: NEW,
        AVD_UPGRADE_MODE: "Manual",
        AVD_MAX_LOGIN_SECONDS: "30",
        AVD_LOGIN_PROBE: "false",
        AVD_MAX_CPU_PERCENT: "80",
        AVD_MIN_FREE_MEMORY_PERCENT: "20",
        AVD_CHECK_FSLOGIX: "true",
        AVD_GATE_TIMEOUT_MINUTES: "30",
        AVD_POLL_SECONDS: "30",
        ...extra,
    };
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await main(env, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { clock: w.clock });
    const last = stdout[stdout.length - 1];
    return { code, stdout, stderr, result: code === 0 && last ? (JSON.parse(last) as GateResult) : undefined };
}

function probedInstances(w: World): string[] {
    return [...new Set(w.rc.runCommands.map((r) => r.instanceId))].sort((a, b) => Number(a) - Number(b));
}

describe("health gate (tools/healthGate.ts)", () => {
    let w: World;
    afterEach(async () => {
        await w?.fake.stop();
    });

    it("passes a ring whose hosts all run the version and pass every check, probing each with Run Command", async () => {
        w = await world(4, "Manual");
        const run = await gate(w);

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.deepEqual({ ...run.result, hosts: undefined }, { validatedImageVersion: "1.2.0", imageVersionId: NEW, hostsChecked: 4, hostsPassed: 4, hosts: undefined });
        assert.deepEqual(run.result?.hosts.map((h) => `${h.host} ${h.outcome}`), ["avdplt000000 healthy", "avdplt000001 healthy", "avdplt000002 healthy", "avdplt000003 healthy"]);
        assert.deepEqual(probedInstances(w), ["0", "1", "2", "3"]);
        const script = readFileSync(HEALTH_CHECK_SCRIPT, "utf8").split("\n");
        for (const r of w.rc.runCommands) {
            assert.deepEqual(r.script, script, "the readable script is sent as it is in the repository");
            assert.deepEqual(r.parameters, { CheckFslogix: "true", MeasureLogon: "false" });
        }
        assert.match(run.stderr.join("\n"), /all 4 probed host\(s\) passed: 1\.2\.0 is validated/);
        assert.deepEqual(w.fake.violations, []);
    });

    it("fails with a per-host table of failed checks", async () => {
        w = await world(4, "Manual");
        w.facts.set("1", () => ({ services: { RDAgent: "Running", RDAgentBootLoader: "Stopped", frxsvc: "Stopped" } }));
        w.facts.set("2", () => ({ cpuPercent: 97.4, freeMemoryPercent: 8, entraJoined: false }));
        const run = await gate(w, { AVD_GATE_TIMEOUT_MINUTES: "10" });

        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.match(err, /Error: health gate for 1\.2\.0 failed: 2 of 4 probed host\(s\) are not healthy \(2 unhealthy\)\./);
        assert.match(err, /avdplt000000\s+0\s+healthy/);
        assert.match(err, /avdplt000001\s+1\s+unhealthy\s+RDAgentBootLoader Stopped; frxsvc Stopped/);
        assert.match(err, /avdplt000002\s+2\s+unhealthy\s+not joined to Active Directory or Microsoft Entra ID; CPU 97% > 80%; free memory 8% < 20%/);
        assert.match(err, /the next ring cannot promote it/);
        assert.equal(run.stdout.length, 0, "no validated version is printed");
        assert.ok(w.rc.runCommands.filter((r) => r.instanceId === "2").length > 1, "failing hosts are probed again until the gate times out");
        assert.equal(w.rc.runCommands.filter((r) => r.instanceId === "0").length, 1, "passing hosts are probed once");
    });

    it("does not check FSLogix in rings that do not use it", async () => {
        w = await world(2, "Manual");
        w.facts.set("0", () => ({ services: { RDAgent: "Running", RDAgentBootLoader: "Running" } }));
        const run = await gate(w, { AVD_CHECK_FSLOGIX: "false" });
        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.deepEqual(w.rc.runCommands[0].parameters, { CheckFslogix: "false", MeasureLogon: "false" });
    });

    it("probes a host again while its CPU settles after the upgrade", async () => {
        w = await world(3, "Manual");
        w.facts.set("1", (probe) => ({ cpuPercent: probe === 1 ? 99 : 35 }));
        const run = await gate(w);
        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.match(run.stderr.join("\n"), /round 1: avdplt000001 \(CPU 99% > 80%\); checking again in 30 s/);
        assert.equal(w.rc.runCommands.length, 4);
    });

    it("checks the login time of the latest logon when the login probe is on", async () => {
        w = await world(2, "Manual");
        w.facts.set("0", () => ({ lastLogon: { user: "CONTOSO\\probe", seconds: 44.6, time: "2026-01-12T08:30:00Z" } }));
        const slow = await gate(w, { AVD_LOGIN_PROBE: "true", AVD_GATE_TIMEOUT_MINUTES: "5" });
        assert.equal(slow.code, 1);
        assert.match(slow.stderr.join("\n"), /avdplt000000\s+0\s+unhealthy\s+login took 45 s > 30 s \(CONTOSO\\probe\)/);
        assert.equal(w.rc.runCommands[0].parameters.MeasureLogon, "true");

        w.facts.set("0", () => ({ lastLogon: { user: "CONTOSO\\probe", seconds: 18.2 } }));
        assert.equal((await gate(w, { AVD_LOGIN_PROBE: "true" })).code, 0);

        w.facts.clear();
        const none = await gate(w, { AVD_LOGIN_PROBE: "true", AVD_GATE_TIMEOUT_MINUTES: "5" });
        assert.equal(none.code, 1);
        assert.match(none.stderr.join("\n"), /no logon was recorded on any probed host since it started/);
    });

    it("reports a host whose probe prints no JSON", async () => {
        w = await world(2, "Manual");
        w.rc.script(VMSS, "1", () => ({ stdout: "", stderr: "Get-CimInstance : Access denied" }));
        const run = await gate(w, { AVD_GATE_TIMEOUT_MINUTES: "5" });
        assert.equal(run.code, 1);
        assert.match(run.stderr.join("\n"), /avdplt000001\s+1\s+probe failed\s+the health check printed no JSON report \(no output\); stderr: Get-CimInstance : Access denied/);
    });

    it("fails when an instance is not Available, naming it and its state", async () => {
        w = await world(3, "Manual");
        w.dv.scenario(HOST_POOL, "2", { status: "NeedsAssistance" });
        const run = await gate(w, { AVD_GATE_TIMEOUT_MINUTES: "10" });
        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.match(err, /1 of 3 instance\(s\) were not on 1\.2\.0 with the AVD agent Available after 10 min/);
        assert.match(err, /avdplt000002\s+2\s+1\.2\.0\s+healthy\s+NeedsAssistance/);
        assert.deepEqual(w.rc.runCommands, [], "no host is probed before every host is Available");
    });

    it("in a Rolling ring waits for Azure's rolling upgrade, then probes a sample that includes the whole last batch", async () => {
        w = await world(40, "Rolling", false);
        w.compute.setModelImage(VMSS, NEW);
        const run = await gate(w, { AVD_UPGRADE_MODE: "Rolling", AVD_GATE_TIMEOUT_MINUTES: "400" });

        assert.equal(run.code, 0, run.stderr.join("\n"));
        const err = run.stderr.join("\n");
        assert.match(err, /rolling upgrade RollingForward: \d+ upgraded/);
        assert.equal(w.compute.rollingUpgradeStatus(VMSS), "Completed");
        const sample = probedInstances(w);
        assert.equal(sample.length, 12, "10 + 5% of 40");
        for (const id of ["36", "37", "38", "39"]) assert.ok(sample.includes(id), `last batch host ${id} is probed`);
        const zones = new Set(sample.map((id) => w.compute.instance(VMSS, id).zone));
        assert.equal(zones.size, 3, "the sample spans every zone");
        assert.equal(run.result?.hostsPassed, 12);
        assert.deepEqual(w.fake.violations, []);
    });

    it("in a Rolling ring fails as soon as Azure's rolling upgrade is Faulted", async () => {
        w = await world(10, "Rolling", false);
        w.compute.scenario(VMSS, "0", { healthAfterUpgrade: "unhealthy" });
        w.compute.setModelImage(VMSS, NEW);
        const run = await gate(w, { AVD_UPGRADE_MODE: "Rolling", AVD_GATE_TIMEOUT_MINUTES: "120" });

        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.match(err, /Error: health gate for 1\.2\.0 failed: Azure's rolling upgrade ended Faulted \(MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade: /);
        assert.match(err, /avdplt000000\s+0\s+1\.2\.0\s+unhealthy/);
        assert.match(err, /avdplt000009\s+9\s+1\.1\.0/);
        assert.deepEqual(w.rc.runCommands, []);
    });

    it("in a Rolling ring does not mistake an earlier Faulted upgrade for the new one", async () => {
        w = await world(10, "Rolling", false);
        w.compute.scenario(VMSS, "0", { healthAfterUpgrade: "unhealthy" });
        w.compute.setModelImage(VMSS, `${DEFINITION}/versions/1.1.5`);
        w.clock.advance(60 * 60_000);
        assert.equal(w.compute.rollingUpgradeStatus(VMSS), "Faulted", "1.1.5 failed earlier");
        w.compute.scenario(VMSS, "0", { healthAfterUpgrade: "healthy" });
        w.compute.rollingUpgradeDelaySeconds = 90;
        w.compute.setModelImage(VMSS, NEW);
        const run = await gate(w, { AVD_UPGRADE_MODE: "Rolling", AVD_GATE_TIMEOUT_MINUTES: "200" });

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.match(run.stderr.join("\n"), /rolling upgrade Faulted: .*\n.*rolling upgrade RollingForward/);
        assert.equal(w.compute.rollingUpgradeStatus(VMSS), "Completed");
    });

    it("in an Automatic ring, where Azure reports no rolling upgrade, waits for every instance to be upgraded", async () => {
        w = await world(3, "Automatic", false);
        w.compute.setModelImage(VMSS, NEW);
        const run = await gate(w, { AVD_UPGRADE_MODE: "Automatic" });
        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.match(run.stderr.join("\n"), /no rolling upgrade reported yet; 0 of 3 instance\(s\) on 1\.2\.0/);
        assert.equal(run.result?.hostsPassed, 3);
        assert.ok(w.compute.instances(VMSS).every((i) => i.upgrades === 1));
    });

    it("refuses a scale set whose model runs another version", async () => {
        w = await world(2, "Manual", false);
        const run = await gate(w);
        assert.equal(run.code, 1);
        assert.match(run.stderr.join("\n"), /does not reference image version 1\.2\.0 \(its model has .*\/versions\/1\.1\.0\)/);
    });
});
