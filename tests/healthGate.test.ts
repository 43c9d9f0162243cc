import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { main, type GateResult } from "../tools/healthGate";
import { VirtualClock } from "../tools/azure/clock";
import { HEALTH_CHECK_SCRIPT } from "../tools/rollout/healthGateRunner";
import { ComputeModule, type UpgradeMode } from "./fakeAzure/compute";
import { DesktopVirtualizationModule } from "./fakeAzure/desktopVirtualization";
import { gpuFacts, RunCommandModule, type GpuDriverState, type RunCommandInput } from "./fakeAzure/runCommand";
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
    /** Per-instance GPU driver state on GPU pools (default: loaded). */
    gpu: Map<string, GpuDriverState>;
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
    const gpu = new Map<string, GpuDriverState>();
    const probes = new Map<string, number>();
    const compute = new ComputeModule();
    const rc = new RunCommandModule(compute, {
        defaultRunCommand: (input: RunCommandInput) => {
            const n = (probes.get(input.instanceId) ?? 0) + 1;
            probes.set(input.instanceId, n);
            const extra = facts.get(input.instanceId)?.(n) ?? {};
            const gpuReport = gpuFacts(input, gpu.get(input.instanceId) ?? "loaded");
            return { stdout: `Collecting facts...\n${JSON.stringify({ ...healthyFacts(input.computerName), gpu: gpuReport, ...extra })}` };
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
    return { clock, fake, compute, dv, rc, facts, gpu };
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
    const start = w.clock.now();
    const code = await main(env, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { clock: w.clock });
    const boundMs = Number(env.AVD_GATE_TIMEOUT_MINUTES) * 60_000 + Number(env.AVD_POLL_SECONDS) * 1000;
    assert.ok(w.clock.now() - start <= boundMs, `the gate waited ${w.clock.now() - start} ms, more than its deadline plus one poll interval (${boundMs} ms)`);
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
        assert.deepEqual(
            { ...run.result, hosts: undefined },
            { validatedImageVersion: "1.2.0", imageVersionId: NEW, validatedAt: new Date(w.clock.now()).toISOString(), hostsChecked: 4, hostsPassed: 4, hosts: undefined },
            "validatedAt is when the gate passed, on the gate's clock",
        );
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

    it("in a Rolling ring waits for Azure's rolling upgrade, then probes a sample that includes the whole last batch", async function () {
        // Hundreds of polls against the fake: about 20 s of real time on a busy machine.
        this.timeout(120_000);
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

/** Progress lines' time stamps ("[1h02m05s] ..."), in ms since the gate started. */
function stamps(stderr: string[]): number[] {
    return stderr
        .map((l) => /^\[(?:(\d+)h)?(?:(\d+)m)?(\d+)s\]/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3])) * 1000);
}

async function timedGate(w: World, extra: Record<string, string | undefined>): Promise<Run & { elapsedMs: number }> {
    const start = w.clock.now();
    const run = await gate(w, extra);
    return { ...run, elapsedMs: w.clock.now() - start };
}

const POLL_MS = 30_000;
const RUN_COMMAND_PATH = /\/virtualMachines\/1\/runCommand$/;

describe("health gate under Run Command faults: every fault is one host's verdict, every wait ends by its deadline", () => {
    let w: World;
    afterEach(async () => {
        await w?.fake.stop();
    });

    it("a probe that never finishes makes its host 'probe timed out' after AVD_PROBE_TIMEOUT_MINUTES, while the others are judged", async () => {
        w = await world(3, "Manual");
        w.rc.script(VMSS, "1", () => ({ hang: true }));
        const run = await timedGate(w, { AVD_GATE_TIMEOUT_MINUTES: "30", AVD_PROBE_TIMEOUT_MINUTES: "5" });

        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.match(err, /failed: 1 of 3 probed host\(s\) are not healthy \(1 probe timed out\)/);
        assert.match(err, /avdplt000000\s+0\s+healthy/);
        assert.match(err, /avdplt000001\s+1\s+probe timed out\s+probe did not finish within 5 min; Azure stops a hung script after 90 min/);
        assert.match(err, /avdplt000002\s+2\s+healthy/);
        assert.equal(w.rc.runsOn("1").length, 1, "a hung host is not probed again (Azure would refuse with 409)");
        assert.deepEqual(w.rc.conflicts, []);
        assert.ok(run.elapsedMs <= 5 * 60_000 + POLL_MS, `the gate ended ${run.elapsedMs} ms after it started, not at its own 30 min deadline`);
    });

    it("a probe timeout longer than the gate's time left still ends by the gate's deadline", async () => {
        w = await world(2, "Manual");
        w.rc.script(VMSS, "0", () => ({ hang: true }));
        w.rc.script(VMSS, "1", () => ({ hang: true }));
        const run = await timedGate(w, { AVD_GATE_TIMEOUT_MINUTES: "12", AVD_PROBE_TIMEOUT_MINUTES: "90" });

        assert.equal(run.code, 1);
        assert.ok(run.elapsedMs <= 12 * 60_000 + POLL_MS, `elapsed ${run.elapsedMs} ms`);
        const err = run.stderr.join("\n");
        assert.match(err, /avdplt000000\s+0\s+probe timed out\s+probe did not finish within 12 min \(the gate's time left\)/);
        assert.match(err, /avdplt000001\s+1\s+probe timed out/);
        assert.match(err, /waiting for Run Command on avdplt000000 \(\d+ min( \d+ s)? left\) and avdplt000001/, "the wait says what it waits for");
        const gaps = stamps(run.stderr).map((t, i, all) => (i === 0 ? 0 : t - all[i - 1]));
        assert.ok(Math.max(...gaps) <= 5 * 60_000, `progress lines at least every 5 min, longest gap ${Math.max(...gaps)} ms`);
    });

    it("a Retry-After of a day on the Run Command operation is capped by the probe deadline and reported while waiting", async () => {
        w = await world(2, "Manual");
        w.fake.operationRetryAfterSeconds = 86_400;
        const run = await timedGate(w, { AVD_GATE_TIMEOUT_MINUTES: "30", AVD_PROBE_TIMEOUT_MINUTES: "10" });

        assert.equal(run.code, 1);
        assert.ok(run.elapsedMs <= 30 * 60_000 + POLL_MS, `elapsed ${run.elapsedMs} ms`);
        assert.match(run.stderr.join("\n"), /avdplt000000\s+0\s+probe timed out\s+probe did not finish within 10 min;/);
        assert.deepEqual(w.fake.violations, [], "Retry-After is never undercut");
        const gaps = stamps(run.stderr).map((t, i, all) => (i === 0 ? 0 : t - all[i - 1]));
        assert.ok(Math.max(...gaps) <= 5 * 60_000, `longest silent wait ${Math.max(...gaps)} ms`);
    });

    it("a day-long Retry-After on an ordinary call ends the gate within its deadline instead of sleeping for a day", async () => {
        w = await world(2, "Manual");
        w.fake.injectFailure({ method: "GET", path: /\/sessionHosts$/, status: 429, retryAfterSeconds: 86_400, count: 1000 });
        const run = await timedGate(w, { AVD_GATE_TIMEOUT_MINUTES: "30" });

        assert.equal(run.code, 1);
        assert.ok(run.elapsedMs <= 30 * 60_000 + POLL_MS, `elapsed ${run.elapsedMs} ms`);
        assert.match(run.stderr.join("\n"), /Azure asked to retry in 24h00m00s, longer than this tool waits for one call \(30m00s\)/);
        assert.deepEqual(w.fake.violations, [], "Retry-After is never undercut");
    });

    it("a failed Run Command (extension error) is that host's 'probe failed' with Azure's message", async () => {
        w = await world(3, "Manual");
        w.rc.script(VMSS, "2", () => ({ extensionError: "Failed to download the script" }));
        const run = await timedGate(w, { AVD_GATE_TIMEOUT_MINUTES: "10" });

        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.doesNotMatch(err, /an Azure call failed/);
        assert.match(err, /avdplt000002\s+2\s+probe failed\s+Run Command failed: VM has reported a failure when processing extension 'RunCommandWindows'\. Error message: "Failed to download the script"\./);
        assert.match(err, /avdplt000000\s+0\s+healthy/);
        assert.ok(w.rc.runsOn("2").length > 1, "a failed probe is tried again in the next round");
        assert.ok(run.elapsedMs <= 10 * 60_000 + POLL_MS, `elapsed ${run.elapsedMs} ms`);
    });

    it("a script that fails on the host (stderr, no report) is 'probe failed' with its stderr", async () => {
        w = await world(2, "Manual");
        w.rc.script(VMSS, "0", () => ({ stdout: "", stderr: "Get-CimInstance : Invalid class" }));
        const run = await gate(w, { AVD_GATE_TIMEOUT_MINUTES: "5" });
        assert.equal(run.code, 1);
        assert.match(run.stderr.join("\n"), /avdplt000000\s+0\s+probe failed\s+the health check printed no JSON report \(no output\); stderr: Get-CimInstance : Invalid class/);
    });

    it("a VM that disappears mid-probe is 'host disappeared', and the others are still judged", async () => {
        w = await world(3, "Manual");
        w.rc.script(VMSS, "0", () => ({ seconds: 90, vmDisappearsAfterSeconds: 20 }));
        const run = await timedGate(w, { AVD_GATE_TIMEOUT_MINUTES: "10" });

        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.match(err, /failed: 1 of 3 probed host\(s\) are not healthy \(1 host disappeared\)/);
        assert.match(err, /avdplt000000\s+0\s+host disappeared\s+the VM no longer exists/);
        assert.match(err, /avdplt000001\s+1\s+healthy/);
        assert.match(err, /avdplt000002\s+2\s+healthy/);
        assert.equal(w.rc.runsOn("0").length, 1, "a vanished host is not probed again");
    });

    for (const status of [502, 0]) {
        it(`a Run Command POST applied by Azure whose answer is lost (${status || "dropped connection"}) is reconciled from the VM's state, not posted again`, async () => {
            w = await world(3, "Manual");
            w.fake.injectFailure({ method: "POST", path: RUN_COMMAND_PATH, status, applied: true });
            const run = await gate(w, { AVD_GATE_TIMEOUT_MINUTES: "15" });

            assert.equal(run.code, 0, run.stderr.join("\n"));
            assert.equal(w.rc.runsOn("1").length, 1, "one run on the host: the output came from its instance view");
            assert.deepEqual(w.rc.conflicts, [], "no second POST ran into 409");
            assert.match(run.stderr.join("\n"), /avdplt000001: the Run Command request got no answer; reading the VM's run-command state/);
            assert.deepEqual(run.result?.hosts.map((h) => h.outcome), ["healthy", "healthy", "healthy"]);
        });
    }

    it("with a share of all POST answers lost, every host is still probed exactly once and judged", async () => {
        w = await world(8, "Manual");
        w.fake.setLostResponses({ rate: 0.5, method: "POST", path: /\/runCommand$/ });
        const run = await gate(w, { AVD_GATE_TIMEOUT_MINUTES: "20" });

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.match(run.stderr.join("\n"), /the Run Command request got no answer/, "some answers were lost");
        for (const id of ["0", "1", "2", "3", "4", "5", "6", "7"]) assert.equal(w.rc.runsOn(id).length, 1, `host ${id} ran one probe`);
        assert.deepEqual(w.rc.conflicts, []);
        assert.equal(run.result?.hostsPassed, 8);
    });

    it("a Run Command POST that failed before Azure applied it is posted again once the VM shows no new run", async () => {
        w = await world(2, "Manual");
        w.fake.injectFailure({ method: "POST", path: RUN_COMMAND_PATH, status: 503 });
        const run = await gate(w, { AVD_GATE_TIMEOUT_MINUTES: "15" });

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.equal(w.rc.runsOn("1").length, 1);
        assert.deepEqual(w.rc.conflicts, []);
    });

    it("a run still going from an earlier gate answers 409, and the gate waits for it instead of failing", async () => {
        w = await world(2, "Manual");
        let slow = true;
        w.rc.script(VMSS, "1", (input) => (slow ? { seconds: 8 * 60 } : { stdout: JSON.stringify(healthyFacts(input.computerName)) }));
        const first = await gate(w, { AVD_GATE_TIMEOUT_MINUTES: "10", AVD_PROBE_TIMEOUT_MINUTES: "2" });
        assert.equal(first.code, 1);
        assert.match(first.stderr.join("\n"), /avdplt000001\s+1\s+probe timed out\s+probe did not finish within 2 min/);

        slow = false;
        const second = await gate(w, { AVD_GATE_TIMEOUT_MINUTES: "20", AVD_PROBE_TIMEOUT_MINUTES: "10" });
        assert.equal(second.code, 0, second.stderr.join("\n"));
        assert.equal(w.rc.conflicts.length, 1, "Azure refused the second run while the first ran");
        assert.match(second.stderr.join("\n"), /avdplt000001: Azure refused a new run \(Run command extension execution is in progress\. Please wait for completion before invoking a run command\.\)/);
        assert.equal(w.rc.runsOn("1").length, 2, "posted again once the earlier run ended");
    });
    describe("GPU pools (AVD_GPU_VENDOR)", () => {
        it("asks the probe for the GPU and passes hosts whose NVIDIA driver is loaded", async () => {
            w = await world(3, "Manual");
            const run = await gate(w, { AVD_GPU_VENDOR: "nvidia" });
            assert.equal(run.code, 0, run.stderr.join("\n"));
            for (const r of w.rc.runCommands) assert.deepEqual(r.parameters, { CheckFslogix: "true", MeasureLogon: "false", GpuVendor: "nvidia" });
            assert.match(run.stderr.join("\n"), /\(Manual upgrades, NVIDIA GPU driver checked\)/);
        });

        it("fails a host whose NVIDIA driver is missing or failed to start, naming the driver", async () => {
            w = await world(4, "Manual");
            w.gpu.set("1", "missing");
            w.gpu.set("3", "failed");
            const run = await gate(w, { AVD_GPU_VENDOR: "nvidia", AVD_GATE_TIMEOUT_MINUTES: "10" });
            assert.equal(run.code, 1);
            const err = run.stderr.join("\n");
            assert.match(err, /failed: 2 of 4 probed host\(s\) are not healthy \(2 unhealthy\)/);
            assert.match(err, /avdplt000001\s+1\s+unhealthy\s+NVIDIA GPU driver not loaded: no NVIDIA display adapter \(Windows shows Microsoft Hyper-V Video, Microsoft Basic Display Adapter\)/);
            assert.match(err, /avdplt000003\s+3\s+unhealthy\s+NVIDIA GPU driver not working: NVIDIA A10-4Q status Error, device error code 43 \(Windows stopped the device: its driver failed to start\)/);
            assert.match(err, /avdplt000000\s+0\s+healthy/);
        });

        it("checks the AMD adapter on AMD pools, without nvidia-smi", async () => {
            w = await world(2, "Manual");
            w.gpu.set("0", "failed");
            const run = await gate(w, { AVD_GPU_VENDOR: "amd", AVD_GATE_TIMEOUT_MINUTES: "5" });
            assert.equal(run.code, 1);
            assert.match(run.stderr.join("\n"), /avdplt000000\s+0\s+unhealthy\s+AMD GPU driver not working: AMD Radeon PRO V710 MxGPU status Error, device error code 43/);
            assert.match(run.stderr.join("\n"), /avdplt000001\s+1\s+healthy/);
        });

        it("leaves the GPU alone on pools without AVD_GPU_VENDOR, even on a host without a GPU driver", async () => {
            w = await world(2, "Manual");
            w.gpu.set("0", "missing");
            const run = await gate(w);
            assert.equal(run.code, 0, run.stderr.join("\n"));
            assert.equal(w.rc.runCommands[0].parameters.GpuVendor, undefined);
        });

        it("refuses an AVD_GPU_VENDOR it does not know before touching Azure", async () => {
            w = await world(1, "Manual");
            const run = await gate(w, { AVD_GPU_VENDOR: "intel" });
            assert.equal(run.code, 2);
            assert.match(run.stderr.join("\n"), /AVD_GPU_VENDOR must be nvidia, amd or unset, got "intel"/);
            assert.equal(w.rc.runCommands.length, 0);
        });
    });
});
