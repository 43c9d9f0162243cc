// The reimage rollout paced by host (sessionHosts.rollout.pacing: host, the default;
// tools/rollout/pacedReimageRunner.ts) against the fake Azure on the virtual clock: a host
// leaves service when a slot frees, not when a whole batch is done, and what keeps the
// lockstep rollout safe still holds: the canary first and watched, a window that grows while
// hosts come back healthy, both unhealthy thresholds, the serving floor, resume after a
// crash, lost answers, stop signals, drain timeouts, maintenance windows and time boxes.
// Each case checks what a user of the ring would notice: which hosts were out of service
// when, what Azure was asked to upgrade, who was warned or signed out, and the report.
import * as assert from "node:assert/strict";
import { prodRolloutEnv } from "./fixtures/prodRolloutEnv";
import { main, type MainOptions, type RolloutResult } from "../tools/rollout";
import { VirtualClock } from "../tools/azure/clock";
import { DRAINED_TAG, LOCK_LEASE_MS, LOCK_TAG } from "../tools/rollout/marker";
import { ComputeModule, type InstanceSeed } from "./fakeAzure/compute";
import { DesktopVirtualizationModule, type UserSessionSeed } from "./fakeAzure/desktopVirtualization";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure, type FakeAzureOptions, type Method } from "./fakeAzure/server";

const RG = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-prod`;
const VMSS = `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-prod`;
const HOST_POOL = `${RG}/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-prod`;
const DEFINITION = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365`;
const OLD = `${DEFINITION}/versions/1.1.0`;
const NEW = `${DEFINITION}/versions/1.2.0`;
const TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.rollout-paced-token";
const POLL_MS = 30_000;
const MIN = 60_000;

interface World {
    clock: VirtualClock;
    fake: FakeAzure;
    compute: ComputeModule;
    dv: DesktopVirtualizationModule;
}

interface Run {
    code: number;
    stderr: string[];
    err: string;
    result?: RolloutResult;
    startedAt: number;
    endedAt: number;
}

async function world(capacity: number, instances: Record<string, InstanceSeed> = {}, options: Partial<FakeAzureOptions> = {}): Promise<World> {
    const clock = new VirtualClock();
    const compute = new ComputeModule();
    const dv = new DesktopVirtualizationModule({ compute, sampleAccepting: true });
    const fake = await startFakeAzure({ clock, acceptToken: TOKEN, ...options }, [compute, dv]);
    compute.addScaleSet({ id: VMSS, capacity, imageReferenceId: OLD, zones: ["1", "2", "3"], computerNamePrefix: "avdprd", upgradeMode: "Manual", instances });
    dv.addHostPool({ id: HOST_POOL, scaleSetId: VMSS, hostNameSuffix: ".contoso.local" });
    // What `pulumi up` did before the rollout command runs: the model references the new version.
    compute.setModelImage(VMSS, NEW);
    return { clock, fake, compute, dv };
}

function env(w: World, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    return prodRolloutEnv({ armUrl: w.fake.url, token: TOKEN, vmss: VMSS, hostPool: HOST_POOL, imageVersionId: NEW }, { AVD_POLL_SECONDS: String(POLL_MS / 1000), AVD_ROLLOUT_PACING: "host", ...extra });
}

async function rollout(w: World, extra: Record<string, string | undefined> = {}, options: MainOptions = {}): Promise<Run> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const startedAt = w.clock.now();
    const code = await main(env(w, extra), { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { clock: w.clock, owner: "tester@ci", ...options });
    const last = stdout[stdout.length - 1];
    return { code, stderr, err: stderr.join("\n"), result: code === 0 && last ? (JSON.parse(last) as RolloutResult) : undefined, startedAt, endedAt: w.clock.now() };
}

function signIn(w: World, instanceId: string, sessions: UserSessionSeed[]): void {
    w.dv.addUserSessions(HOST_POOL, instanceId, sessions);
}

function hostName(instanceId: string): string {
    return `avdprd${Number(instanceId).toString(36).padStart(6, "0")}`;
}

function idOf(sessionHostName: string): string {
    return String(parseInt(sessionHostName.slice("avdprd".length, "avdprd".length + 6), 36));
}

/** The report row of one host: `avdprd00000N  N  zone  image  health  AVD  drain  sessions  outcome`. */
function reportRow(run: Run, instanceId: string): string {
    const start = run.stderr.findIndex((l) => /rollout report: /.test(l));
    assert.ok(start >= 0, `the run printed its report:\n${run.err}`);
    const row = run.stderr.slice(start).find((l) => l.includes(`${hostName(instanceId)} `));
    assert.ok(row, `the report has a row for ${hostName(instanceId)}`);
    return row;
}

/** When the rollout put each host into / out of drain mode (first time, from `since`). */
function drainedAt(w: World, instanceId: string, since = 0): number | undefined {
    return w.dv.drainChanges.find((c) => idOf(c.sessionHostName) === instanceId && !c.allowNewSession && c.time >= since)?.time;
}
function undrainedAt(w: World, instanceId: string, since = 0): number | undefined {
    return w.dv.drainChanges.find((c) => idOf(c.sessionHostName) === instanceId && c.allowNewSession && c.time >= since)?.time;
}

/** When Azure was first asked to upgrade the instance (from `since`). */
function upgradeAskedAt(w: World, instanceId: string, since = 0): number | undefined {
    return w.compute.manualUpgrades.find((u) => u.instanceIds.includes(instanceId) && u.time >= since)?.time;
}

/** The hosts the rollout had in drain mode after each of its drain changes, replayed from the fake's log. */
function drainedOverTime(w: World): Array<{ time: number; drained: Set<string>; undrainsSoFar: number; change: "on" | "off" }> {
    const drained = new Set<string>();
    let undrains = 0;
    return w.dv.drainChanges.map((c) => {
        const id = idOf(c.sessionHostName);
        if (c.allowNewSession) {
            drained.delete(id);
            undrains += 1;
        } else drained.add(id);
        return { time: c.time, drained: new Set(drained), undrainsSoFar: undrains, change: c.allowNewSession ? "off" : "on" };
    });
}

function lowestAccepting(w: World, since = 0): number {
    return Math.min(...w.dv.acceptingSamples.filter((s) => s.time >= since).map((s) => s.accepting));
}

function assertNoRolloutTags(w: World): void {
    const names = Object.keys(w.compute.tags(VMSS)).map((n) => n.toLowerCase());
    assert.ok(!names.includes(LOCK_TAG), "the lock is released");
    assert.ok(!names.includes(DRAINED_TAG), "no host is left on the rollout's drained list");
}

/** Every instance on 1.2.0 upgraded exactly once, every host in service (except `leftDrained`), nobody lost, nothing left behind. */
function assertFinished(w: World, leftDrained: string[] = []): void {
    for (const i of w.compute.instances(VMSS)) {
        assert.equal(i.upgrades, 1, `instance ${i.instanceId} upgraded exactly once`);
        assert.ok(i.imageReferenceId.endsWith("/versions/1.2.0") && i.latestModelApplied, `instance ${i.instanceId} runs 1.2.0`);
    }
    for (const h of w.dv.sessionHosts(HOST_POOL)) {
        if (!w.compute.hasInstance(VMSS, h.instanceId)) continue;
        assert.equal(h.allowNewSession, !leftDrained.includes(h.instanceId), `host ${h.instanceId} ${leftDrained.includes(h.instanceId) ? "stays in drain mode" : "is in service"}`);
        assert.equal(h.status, "Available");
    }
    assert.deepEqual(w.dv.sessionsLostToReimage, [], "no host was reimaged with a user on it");
    assertNoRolloutTags(w);
    assert.deepEqual(w.fake.violations, [], "no request came sooner than a Retry-After allowed");
}

describe("reimage rollout paced by host (AVD_ROLLOUT_PACING=host)", function () {
    // Hours of virtual time still take a few thousand requests to the fake.
    this.timeout(60_000);
    let w: World;
    afterEach(async () => {
        await w?.fake.stop();
    });

    it("starts with one canary (the host with fewest users), watches it for the pause, then drains up to the step while upgrades grow by one per healthy host", async () => {
        w = await world(10);
        // Every host but 4 has users, who sign out at known times after the warning.
        const signsOut: Record<string, number[]> = { "0": [60, 240], "1": [120], "2": [300, 90, 30], "3": [45], "5": [600], "6": [150, 150], "7": [30], "8": [400], "9": [200, 20] };
        for (const [id, secs] of Object.entries(signsOut)) signIn(w, id, secs.map((s, k) => ({ userPrincipalName: `u${id}-${k}@contoso.com`, signsOutAfterDrainSeconds: s })));
        const run = await rollout(w, { AVD_MAX_BATCH_PERCENT: "40" });

        assert.equal(run.code, 0, run.err);
        assert.deepEqual(run.result, { imageVersion: "1.2.0", imageVersionId: NEW, instancesUpgraded: 10, instancesAlreadyCurrent: 0, batches: run.result?.batches, signedOutSessions: { active: 0, disconnected: 0 }, hostsLeftDrained: [] });
        assertFinished(w);
        for (let i = 0; i < 10; i++) assert.match(reportRow(run, String(i)), /upgraded to 1\.2\.0, back in service$/);

        // The canary: host 4 (no users) alone, back in service; no other host leaves service before it is back,
        // and none is upgraded during the 10 minutes (the pause) it is watched: the others drain meanwhile.
        assert.deepEqual(w.compute.manualUpgrades[0].instanceIds, ["4"]);
        assert.match(run.err, /canary: drain mode on for avdprd000004 \(zone 2\)/);
        const canaryBack = undrainedAt(w, "4");
        assert.ok(canaryBack !== undefined);
        const others = w.dv.drainChanges.filter((c) => idOf(c.sessionHostName) !== "4");
        assert.ok(others.every((c) => c.time >= canaryBack), "no other host left service before the canary's verdict");
        assert.ok(others[0].time - canaryBack < 2 * POLL_MS, "the next hosts drain right after it, during its watch");
        assert.ok(w.compute.manualUpgrades.slice(1).every((u) => u.time >= canaryBack + 10 * MIN), "no other host was upgraded while the canary was watched");

        // Out of service: never more than the step (40% of 10 = 4), and it reaches it.
        const timeline = drainedOverTime(w);
        assert.ok(timeline.every((x) => x.drained.size <= 4), "never more than the step out of service");
        assert.equal(Math.max(...timeline.map((x) => x.drained.size)), 4, "the step is used");
        // Upgraded and not yet back (an open verdict): never more than 1 + the hosts back healthy so far.
        for (const u of w.compute.manualUpgrades) {
            const back = w.dv.drainChanges.filter((c) => c.allowNewSession && c.time <= u.time);
            const open = new Set(w.compute.manualUpgrades.filter((x) => x.time <= u.time).flatMap((x) => x.instanceIds).filter((id) => !back.some((c) => idOf(c.sessionHostName) === id)));
            assert.ok(open.size <= Math.min(4, 1 + back.length), `${open.size} upgrade(s) with an open verdict after ${back.length} healthy host(s)`);
        }
        assert.ok(lowestAccepting(w) >= 6, `never fewer than 10 - 4 hosts taking users (lowest ${lowestAccepting(w)})`);

        // Each host is upgraded on its own as soon as its own last user is gone (a sign-out shows at the next heartbeat, 30 s).
        for (let i = 0; i < 10; i++) {
            const id = String(i);
            const drained = drainedAt(w, id) as number;
            const lastUser = Math.max(0, ...(signsOut[id] ?? []).map((s) => s * 1000));
            const asked = upgradeAskedAt(w, id) as number;
            assert.ok(asked >= drained + lastUser, `host ${id} was not upgraded before its last user left`);
        }
        assert.ok(
            w.compute.manualUpgrades.every((u) => u.instanceIds.length === 1 || u.instanceIds.every((id) => upgradeAskedAt(w, id) === u.time)),
            "a request only names hosts whose users have gone",
        );
        // Every user still signed in at the first look after the drain was warned once (those who left sooner need no warning); nobody was signed out.
        const stayed = Object.entries(signsOut).flatMap(([id, secs]) => secs.map((s, k) => ({ upn: `u${id}-${k}@contoso.com`, s })).filter((u) => u.s > POLL_MS / 1000).map((u) => u.upn));
        assert.deepEqual(w.dv.messages.map((m) => m.userPrincipalName).sort(), stayed.sort());
        assert.ok(w.dv.messages.every((m) => m.seen));
        assert.deepEqual(w.dv.logoffs, []);
    });

    it("paces by host: a user who stays two hours holds one slot while every other host finishes, far sooner than lockstep batches", async () => {
        // Host 5 has the most users (most sessions first once the window is full), one of whom stays two hours after the warning.
        const setUp = async (): Promise<World> => {
            const x = await world(10);
            for (let i = 0; i < 10; i++) if (i !== 5) signIn(x, String(i), [{ signsOutAfterDrainSeconds: 90 }]);
            signIn(x, "5", [{ signsOutAfterDrainSeconds: 60 }, { signsOutAfterDrainSeconds: 120 }, { userPrincipalName: "late@contoso.com", signsOutAfterDrainSeconds: 2 * 3600 }]);
            return x;
        };
        // Polls of a minute keep the hours of virtual time cheap; both runs get the same settings.
        const settings = { AVD_DRAIN_TIMEOUT_MINUTES: "180", AVD_POLL_SECONDS: "60" };

        w = await setUp();
        const paced = await rollout(w, settings);
        assert.equal(paced.code, 0, paced.err);
        assertFinished(w);
        const lateDrained = drainedAt(w, "5") as number;
        const lateUpgraded = upgradeAskedAt(w, "5") as number;
        assert.ok(lateUpgraded - lateDrained >= 2 * 3600_000, "host 5 waited for its late user");
        const othersDone = Math.max(...["0", "1", "2", "3", "4", "6", "7", "8", "9"].map((id) => undrainedAt(w, id) as number));
        assert.ok(othersDone < lateUpgraded - 45 * MIN, `every other host was back in service ${(lateUpgraded - othersDone) / MIN} min before host 5's upgrade`);
        assert.ok(othersDone > lateDrained, "while host 5 held its slot");
        // Nobody else spent the late user's two hours out of service.
        for (const id of ["0", "1", "2", "3", "4", "6", "7", "8", "9"]) assert.ok((undrainedAt(w, id) as number) - (drainedAt(w, id) as number) < 60 * MIN, `host ${id} was out of service for minutes, not hours`);
        const pacedMs = paced.endedAt - paced.startedAt;
        await w.fake.stop();

        w = await setUp();
        const lockstep = await rollout(w, { ...settings, AVD_ROLLOUT_PACING: "batch" });
        assert.equal(lockstep.code, 0, lockstep.err);
        assertFinished(w);
        const lockstepMs = lockstep.endedAt - lockstep.startedAt;
        assert.ok(pacedMs < lockstepMs - 45 * MIN && pacedMs < 0.8 * lockstepMs, `paced by host ${Math.round(pacedMs / MIN)} min, lockstep batches ${Math.round(lockstepMs / MIN)} min`);
    });

    it("stops when the canary comes back unhealthy (maxUnhealthyUpgradedInstancePercent): only the canary was touched, and it stays in drain mode", async () => {
        w = await world(10);
        for (let i = 1; i < 10; i++) signIn(w, String(i), [{ signsOutAfterDrainSeconds: 60 }]);
        w.compute.scenario(VMSS, "0", { healthAfterUpgrade: "unhealthy" });
        const run = await rollout(w, { AVD_HEALTH_TIMEOUT_MINUTES: "20" });

        assert.equal(run.code, 1);
        assert.match(run.err, /avdprd000000 \(health probe unhealthy\) not ready after 20 min: left in drain mode, no users are sent there/);
        assert.match(run.err, /Error: rollout of 1\.2\.0 stopped: 1 of 1 host\(s\) on the new image are unhealthy \(100% > maxUnhealthyUpgradedInstancePercent 20%\)/);
        assert.match(run.err, /9 host\(s\) were not touched and stay on 1\.1\.0, taking users as before/);
        assert.match(reportRow(run, "0"), /1\.2\.0\s+unhealthy\s+Available\s+on\s+0\s+on 1\.2\.0, not ready \(health probe unhealthy\): left in drain mode$/);
        assert.deepEqual(w.compute.manualUpgrades.map((u) => u.instanceIds), [["0"]], "only the canary was upgraded");
        assert.deepEqual(w.dv.drainChanges.map((c) => [idOf(c.sessionHostName), c.allowNewSession]), [["0", false]], "no other host left service");
        assert.equal(w.dv.sessionHost(HOST_POOL, "0").allowNewSession, false, "the unhealthy host gets no users");
        for (let i = 1; i < 10; i++) assert.equal(w.dv.sessionHost(HOST_POOL, String(i)).allowNewSession, true);
        assert.deepEqual(w.dv.messages, [], "nobody on the other hosts was even warned");
        assert.equal(w.compute.tags(VMSS)[DRAINED_TAG], "0", "the canary stays on the rollout's list for the next run");
        assert.ok(!Object.keys(w.compute.tags(VMSS)).includes(LOCK_TAG));
    });

    it("stops at maxUnhealthyInstancePercent over the whole scale set: a host still waiting for users goes back into service, one mid-upgrade stays drained and listed, and the next run finishes it", async () => {
        // Hosts 8 and 9 are unhealthy before the rollout (20% of 10: allowed); a third unhealthy host breaches the threshold.
        w = await world(10, { "8": { health: "unhealthy" }, "9": { health: "unhealthy" } });
        w.compute.scenario(VMSS, "4", { healthAfterUpgrade: "unhealthy" });
        w.compute.scenario(VMSS, "2", { upgradeSeconds: 20 * 60 });
        // After the canary (a host without users), the most users first: 3, then 2 and 4.
        signIn(w, "3", [{ userPrincipalName: "stays@contoso.com", endsAfterPolls: "never" }, { signsOutAfterDrainSeconds: 60 }, { signsOutAfterDrainSeconds: 60 }]);
        // Host 2's last user leaves five minutes after host 4's: its upgrade is still running when host 4 fails its health timeout.
        signIn(w, "2", [{ signsOutAfterDrainSeconds: 300 }, { signsOutAfterDrainSeconds: 90 }]);
        signIn(w, "4", [{ signsOutAfterDrainSeconds: 60 }, { signsOutAfterDrainSeconds: 90 }]);
        for (const id of ["5", "6", "7", "8", "9"]) signIn(w, id, [{ signsOutAfterDrainSeconds: 60 }]);
        const settings = { AVD_MAX_BATCH_PERCENT: "30", AVD_PAUSE_BETWEEN_BATCHES: "PT0S", AVD_PRIORITIZE_UNHEALTHY: "false", AVD_MAX_UNHEALTHY_UPGRADED_PERCENT: "100", AVD_HEALTH_TIMEOUT_MINUTES: "20", AVD_DRAIN_TIMEOUT_MINUTES: "120" };
        const run = await rollout(w, settings);
        assert.equal(run.code, 1);
        assert.match(run.err, /Error: rollout of 1\.2\.0 stopped: 3 of 10 host\(s\) in the scale set are unhealthy \(30% > maxUnhealthyInstancePercent 20%\)/);
        // The canary (no users), then 4 and 2, each once its own users have left, while 3 waits for its user.
        assert.deepEqual(w.compute.manualUpgrades.map((u) => u.instanceIds).slice(1), [["4"], ["2"]]);
        assert.equal(w.compute.manualUpgrades[0].instanceIds.length, 1);
        assert.ok((drainedAt(w, "3") as number) < w.compute.manualUpgrades[2].time, "host 3 was waiting for its user when the rollout stopped");
        assert.match(run.err, /avdprd000004 \(health probe unhealthy\) not ready after 20 min: left in drain mode/);
        assert.match(reportRow(run, "3"), /1\.1\.0\s+healthy\s+Available\s+off\s+1\s+not upgraded \(the rollout stopped: .*\): back in service on 1\.1\.0$/);
        assert.match(reportRow(run, "2"), /upgrade under way when the rollout stopped: left in drain mode, the next run finishes it$/);
        assert.match(reportRow(run, "4"), /on 1\.2\.0, not ready \(health probe unhealthy\): left in drain mode$/);
        const drained = w.dv.sessionHosts(HOST_POOL).filter((h) => !h.allowNewSession).map((h) => h.instanceId).sort();
        assert.deepEqual(drained, ["2", "4"], "the unhealthy host and the one Azure is upgrading stay out of service, the rest take users");
        assert.deepEqual(w.compute.tags(VMSS)[DRAINED_TAG]?.split(",").sort(), ["2", "4"]);
        assert.equal(w.compute.instance(VMSS, "3").upgrades, 0, "the host with a user was never upgraded");
        assert.deepEqual(w.dv.sessionsLostToReimage, []);
        assert.ok(lowestAccepting(w) >= 5, "the serving floor (10 - 3 - 2) held");

        // The next run, right away (host 4 fixed by hand, the threshold raised), finishes host 2 first, without a second upgrade.
        w.compute.scenario(VMSS, "4", { healthAfterUpgrade: "healthy" });
        const before = w.compute.manualUpgrades.length;
        const next = await rollout(w, { ...settings, AVD_MAX_UNHEALTHY_PERCENT: "100", AVD_DRAIN_TIMEOUT_MINUTES: "30", AVD_FORCE_LOGOFF: "true" });
        assert.equal(next.code, 0, next.err);
        assert.match(next.err, /resuming: finishing 2 host\(s\) an earlier run left in drain mode first: avdprd000002 \(being upgraded\) and avdprd000004 \(on 1\.2\.0\)/);
        assert.ok(!w.compute.manualUpgrades.slice(before).some((u) => u.instanceIds.includes("4") || u.instanceIds.includes("2")), "neither was upgraded again");
        assertFinished(w);
        assert.equal(next.result?.instancesUpgraded, 7, "3, 5, 6, 7, 8, 9 and the host without users that was not the canary");
        assert.deepEqual(w.dv.logoffs.map((l) => l.userPrincipalName), ["stays@contoso.com"], "the user who stayed was signed out after the next run's warning");
    });

    it("leaves a host whose upgrade outlasts the health timeout in drain mode, goes on with a new canary, and stops once Azure has not finished it after one more health timeout", async () => {
        w = await world(5);
        w.compute.scenario(VMSS, "0", { upgradeSeconds: 3 * 3600 });
        const run = await rollout(w, { AVD_HEALTH_TIMEOUT_MINUTES: "20", AVD_PAUSE_BETWEEN_BATCHES: "PT0S" });

        assert.equal(run.code, 1);
        assert.match(run.err, /avdprd000000 \(its upgrade is still running\) not ready after 20 min: left in drain mode, no users are sent there; window back to 1/);
        assert.match(run.err, /Error: Azure operations on avdprd000000 did not finish within 20 min; the rollout had left them in drain mode at their health timeout and waited once more/);
        assert.ok(run.endedAt - run.startedAt < 45 * MIN, `the run did not wait for the three-hour upgrade (${Math.round((run.endedAt - run.startedAt) / MIN)} min)`);
        assert.equal(w.dv.sessionHost(HOST_POOL, "0").allowNewSession, false, "no users are sent to the host Azure is still upgrading");
        const later = w.compute.manualUpgrades.slice(1).flatMap((u) => u.instanceIds);
        assert.ok(later.length >= 2, "the other hosts went on meanwhile, one at a time");
        for (const h of w.dv.sessionHosts(HOST_POOL).filter((x) => x.instanceId !== "0")) {
            const busy = w.compute.isBusy(VMSS, h.instanceId, w.clock.now());
            assert.equal(h.allowNewSession, !busy, `host ${h.instanceId}: ${busy ? "mid-upgrade, stays drained" : "in service"}`);
        }
        assert.deepEqual(w.dv.sessionsLostToReimage, []);

        // Once Azure has finished, the next run finishes what was left and the rest.
        w.clock.advance(3 * 3600_000);
        const next = await rollout(w, { AVD_HEALTH_TIMEOUT_MINUTES: "20", AVD_PAUSE_BETWEEN_BATCHES: "PT0S" });
        assert.equal(next.code, 0, next.err);
        assert.match(next.err, /resuming: finishing \d host\(s\) an earlier run left in drain mode first: avdprd000000 \(on 1\.2\.0\)/);
        assertFinished(w);
    });

    describe("resumes after a crash at every step and mid-step: leftovers first, nothing upgraded twice, nothing left drained", () => {
        const points: Array<[string, Method, RegExp, number]> = [
            ["right after the marker listed the canary, before its drain", "PATCH", /\/tags\/default$/, 1],
            ["right after the canary's drain", "PATCH", /\/sessionHosts\/[^/]+$/, 0],
            ["right after Azure accepted the canary's upgrade", "POST", /\/manualupgrade$/, 0],
            ["right after the canary went back into service, before the marker forgot it", "PATCH", /\/sessionHosts\/[^/]+$/, 1],
            ["right after a later drain", "PATCH", /\/sessionHosts\/[^/]+$/, 3],
            ["right after a later upgrade was accepted", "POST", /\/manualupgrade$/, 2],
            ["while a user is leaving", "GET", /\/userSessions$/, 4],
            ["while hosts are being upgraded", "GET", /\/virtualMachines$/, 30],
        ];
        for (const [when, method, path, skip] of points) {
            it(when, async () => {
                w = await world(5);
                signIn(w, "1", [{ endsAfterPolls: 4 }]);
                signIn(w, "3", [{ endsAfterPolls: 8 }, { state: "Disconnected", endsAfterPolls: 3 }]);
                w.compute.crash.arm(method, path, skip);
                const settings = { AVD_MAX_BATCH_PERCENT: "40", AVD_PAUSE_BETWEEN_BATCHES: "PT5M" };
                const first = await rollout(w, settings);
                assert.equal(first.code, 1, "the first run died");
                assert.equal(w.compute.crash.crashedOn.length, 1);
                w.compute.crash.recover();
                const leftDrained = w.dv.sessionHosts(HOST_POOL).filter((h) => !h.allowNewSession).map((h) => h.instanceId);
                w.clock.advance(LOCK_LEASE_MS);
                const resumedAt = w.clock.now();
                const second = await rollout(w, settings);
                assert.equal(second.code, 0, second.err);
                assertFinished(w);
                assert.equal(second.result?.instancesUpgraded, w.compute.instances(VMSS).length - (second.result?.instancesAlreadyCurrent ?? 0));
                if (leftDrained.length > 0) {
                    assert.match(second.err, new RegExp(`resuming: finishing ${leftDrained.length} host\\(s\\) an earlier run left in drain mode first`));
                    const firstNewDrain = Math.min(...w.dv.drainChanges.filter((c) => c.time >= resumedAt && !c.allowNewSession).map((c) => c.time));
                    for (const id of leftDrained) assert.ok((undrainedAt(w, id, resumedAt) as number) <= firstNewDrain, `the leftover ${id} was back in service before another host left`);
                }
                assert.ok(lowestAccepting(w) >= 2, `never below the serving floor of 5 - 2 - 1 (lowest ${lowestAccepting(w)})`);
            });
        }
    });

    for (const status of [0, 500] as const) {
        it(`does not upgrade twice when Azure applied a manualupgrade but the answer was ${status === 0 ? "a dropped connection" : "HTTP 500"}`, async () => {
            w = await world(5);
            w.fake.injectFailure({ method: "POST", path: /\/manualupgrade$/, applied: true, status });
            const run = await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT0S" });

            assert.equal(run.code, 0, run.err);
            assert.match(run.err, new RegExp(`the answer to the upgrade request for avdprd000000 was lost \\(${status === 0 ? "connection dropped" : "HTTP 500"}\\); the next look at the instances tells whether Azure started it`));
            assert.doesNotMatch(run.err, /asking again/);
            assert.equal(w.fake.requestsMatching("POST", /\/manualupgrade$/).length, 5, "one request per host: the lost one was not repeated");
            assert.equal(run.result?.batches, 5);
            assertFinished(w);
            assert.match(reportRow(run, "0"), /upgraded to 1\.2\.0, back in service$/);
        });
    }

    it("asks again when a manualupgrade was lost before Azure applied it", async () => {
        w = await world(5);
        w.fake.injectFailure({ method: "POST", path: /\/manualupgrade$/, status: 502 });
        const run = await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT0S" });

        assert.equal(run.code, 0, run.err);
        assert.match(run.err, /the answer to the upgrade request for avdprd000000 was lost \(HTTP 502\)/);
        assert.match(run.err, /Azure has not started upgrading avdprd000000: asking again/);
        assert.equal(w.compute.manualUpgrades.filter((u) => u.instanceIds.includes("0")).length, 1, "Azure upgraded it once");
        assert.equal(w.fake.requestsMatching("POST", /\/manualupgrade$/).length, 6, "asked twice for the canary, once for each other host");
        assertFinished(w);
    });

    it("on SIGTERM while users are leaving, puts every draining host back in service and exits 1", async () => {
        w = await world(5);
        for (const id of ["0", "1", "2", "3", "4"]) signIn(w, id, [{ endsAfterPolls: "never" }]);
        const stop = new AbortController();
        const running = rollout(w, { AVD_DRAIN_TIMEOUT_MINUTES: "120" }, { signal: stop.signal });
        while (w.dv.messages.length === 0) await new Promise((resolve) => setImmediate(resolve));
        stop.abort("SIGTERM");
        const run = await running;

        assert.equal(run.code, 1);
        assert.match(run.err, /Error: rollout stopped by SIGTERM: 0 of 5 hosts on 1\.2\.0; run `pulumi up` again to continue\./);
        assert.match(run.err, /No host is in drain mode on the rollout's account/);
        assert.match(reportRow(run, "0"), /not upgraded \(stop requested before its upgrade\): back in service on 1\.1\.0$/);
        assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession), "every host takes users again");
        assert.deepEqual(w.compute.manualUpgrades, []);
        assert.deepEqual(w.dv.logoffs, []);
        assertNoRolloutTags(w);
    });

    it("on SIGTERM during an upgrade, leaves that host drained and listed while a host still waiting for users goes back into service; the next run finishes it first", async () => {
        w = await world(10);
        // 0 has no users: the canary. Then the most users first, a step (20%: 2) at a time: 2 (three users, one slow) and 1 (two),
        // which drain during the canary's watch; 1 is empty by its end and is upgraded while 2 still waits for its slow user.
        signIn(w, "2", [{ userPrincipalName: "slow@contoso.com", endsAfterPolls: 60 }, { signsOutAfterDrainSeconds: 60 }, { signsOutAfterDrainSeconds: 90 }]);
        signIn(w, "1", [{ signsOutAfterDrainSeconds: 60 }, { signsOutAfterDrainSeconds: 120 }]);
        for (let i = 3; i < 10; i++) signIn(w, String(i), [{ signsOutAfterDrainSeconds: 60 }]);
        const stop = new AbortController();
        w.compute.onReimage((_, instanceId, kind) => {
            if (kind === "begin" && instanceId === "1") stop.abort("SIGTERM");
        });
        const settings = { AVD_MAX_BATCH_PERCENT: "20", AVD_DRAIN_TIMEOUT_MINUTES: "120" };
        const first = await rollout(w, settings, { signal: stop.signal });

        assert.equal(first.code, 1);
        assert.match(first.err, /Error: rollout stopped by SIGTERM: \d of 10 hosts on 1\.2\.0; run `pulumi up` again to continue\./);
        assert.match(first.err, /avdprd000001 is being upgraded by Azure and stays in drain mode; the scale set's tag avd-image-rings-rollout-drained lists them, and the next run finishes them first/);
        assert.match(reportRow(first, "1"), /upgrade under way when the rollout stopped: left in drain mode, the next run finishes it$/);
        assert.match(reportRow(first, "2"), /1\.1\.0\s+healthy\s+Available\s+off\s+1\s+not upgraded \(stop requested before its upgrade\): back in service on 1\.1\.0$/);
        assert.deepEqual(w.dv.sessionHosts(HOST_POOL).filter((h) => !h.allowNewSession).map((h) => h.instanceId), ["1"], "only the host being upgraded is out of service");
        assert.equal(w.compute.tags(VMSS)[DRAINED_TAG], "1");
        assert.ok(!Object.keys(w.compute.tags(VMSS)).includes(LOCK_TAG), "the lock was released on the way out");
        assert.deepEqual(w.compute.manualUpgrades.map((u) => u.instanceIds), [["0"], ["1"]]);

        const resumedAt = w.clock.now();
        const second = await rollout(w, settings);
        assert.equal(second.code, 0, second.err);
        assert.match(second.err, /resuming: finishing 1 host\(s\) an earlier run left in drain mode first: avdprd000001 \((being upgraded|on 1\.2\.0)\)/);
        assert.ok((undrainedAt(w, "1", resumedAt) as number) <= (drainedAt(w, "2", resumedAt) as number), "host 1 was finished before another host left service");
        assertFinished(w);
        assert.equal(second.result?.instancesUpgraded, 8, "host 1's upgrade is the first run's");
    });

    it("a Disconnected user past the drain timeout holds only their host: the others finish, the run stops listing the session, and the next run (opted in) finishes it first", async () => {
        w = await world(5);
        signIn(w, "1", [{ userPrincipalName: "late@contoso.com", endsAfterPolls: "never" }]);
        signIn(w, "3", [{ userPrincipalName: "away@contoso.com", state: "Disconnected", endsAfterPolls: "never" }]);
        const settings = { AVD_MAX_BATCH_PERCENT: "40", AVD_PAUSE_BETWEEN_BATCHES: "PT0S", AVD_FORCE_LOGOFF: "true", AVD_DRAIN_TIMEOUT_MINUTES: "30" };
        const run = await rollout(w, settings);

        assert.equal(run.code, 1);
        assert.match(run.err, /avdprd000003 keeps 1 user session\(s\) past the drain timeout of 30 min: it holds one slot and stays in drain mode; the other hosts go on/);
        assert.match(run.err, /Error: rollout of 1\.2\.0 stopped: 1 user session\(s\) were still open on avdprd000003 after the drain timeout of 30 min, and no other host can move; 4 of 5 hosts on 1\.2\.0\./);
        assert.match(run.err, /avdprd000003\s+away@contoso\.com\s+Disconnected/);
        assert.match(run.err, /1 of them is Disconnected: those users cannot see a warning .* set drain\.logOffDisconnectedSessions: true/);
        assert.match(reportRow(run, "3"), /1\.1\.0\s+healthy\s+Available\s+on\s+1\s+session\(s\) still open at the drain timeout: not upgraded, left in drain mode$/);
        // The Active user was warned and signed out after the whole warning period; the Disconnected one was neither.
        assert.deepEqual(w.dv.messages.map((m) => m.userPrincipalName), ["late@contoso.com"]);
        assert.deepEqual(w.dv.logoffs.map((l) => [l.userPrincipalName, l.sessionState]), [["late@contoso.com", "Active"]]);
        assert.ok(w.dv.logoffs[0].time - w.dv.messages[0].time >= 30 * MIN);
        assert.equal(w.compute.instance(VMSS, "3").upgrades, 0);
        for (const id of ["0", "1", "2", "4"]) {
            assert.equal(w.compute.instance(VMSS, id).upgrades, 1, `host ${id} was upgraded`);
            assert.equal(w.dv.sessionHost(HOST_POOL, id).allowNewSession, true);
        }
        const heldSince = drainedAt(w, "3") as number;
        assert.ok(["0", "1", "2", "4"].some((id) => (undrainedAt(w, id) as number) > heldSince + 30 * MIN), "other hosts finished after host 3's drain timeout");
        assert.equal(w.dv.sessionHost(HOST_POOL, "3").allowNewSession, false, "no new users reach the held host");
        assert.equal(w.compute.tags(VMSS)[DRAINED_TAG], "3", "the held host is on the rollout's list for the next run");
        assert.deepEqual(w.dv.sessionsLostToReimage, []);

        const next = await rollout(w, { ...settings, AVD_LOG_OFF_DISCONNECTED: "true" });
        assert.equal(next.code, 0, next.err);
        assert.match(next.err, /resuming: finishing 1 host\(s\) an earlier run left in drain mode first: avdprd000003 \(on 1\.1\.0\)/);
        assert.deepEqual(next.result?.signedOutSessions, { active: 0, disconnected: 1 });
        assert.deepEqual(w.dv.logoffs.map((l) => [l.userPrincipalName, l.sessionState]), [["late@contoso.com", "Active"], ["away@contoso.com", "Disconnected"]]);
        assertFinished(w);
    });

    it("a host held past its drain timeout is released when its user signs out after all: it is upgraded, and the run ends well", async () => {
        w = await world(10);
        // Without forced logoff the user on host 3 holds it at the drain timeout (30 min), signs out 40 min after the drain, and its upgrade is slow.
        signIn(w, "3", [{ userPrincipalName: "late@contoso.com", signsOutAfterDrainSeconds: 40 * 60 }]);
        w.compute.scenario(VMSS, "3", { upgradeSeconds: 30 * 60 });
        const run = await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT0S", AVD_DRAIN_TIMEOUT_MINUTES: "30" });

        assert.equal(run.code, 0, run.err);
        assert.match(run.err, /avdprd000003 keeps 1 user session\(s\) past the drain timeout of 30 min: it holds one slot and stays in drain mode; the other hosts go on/);
        const drained = drainedAt(w, "3") as number;
        assert.ok((upgradeAskedAt(w, "3") as number) >= drained + 40 * MIN, "upgraded once the user had gone");
        const othersDone = Math.max(...["0", "1", "2", "4", "5", "6", "7", "8", "9"].map((id) => undrainedAt(w, id) as number));
        assert.ok(othersDone < (undrainedAt(w, "3") as number), "the other hosts were done while host 3 was still upgrading");
        assert.match(reportRow(run, "3"), /upgraded to 1\.2\.0, back in service$/);
        assert.deepEqual(w.dv.logoffs, []);
        assertFinished(w);
    });

    it("waits with every host in service while draining is not permitted, then goes on", async () => {
        w = await world(5);
        const opensAt = w.clock.now() + 2 * 3600_000;
        const run = await rollout(w, { AVD_MAX_BATCH_PERCENT: "40" }, {
            hooks: { mayStartDraining: (now) => (now >= opensAt ? { allowed: true } : { allowed: false, reason: "outside the maintenance window", retryAt: opensAt }) },
        });
        assert.equal(run.code, 0, run.err);
        assert.match(run.err, /no host may start draining now \(outside the maintenance window\): waiting until/);
        assert.ok(w.dv.drainChanges.length > 0 && w.dv.drainChanges.every((c) => c.time >= opensAt), "nothing drained before the window");
        assertFinished(w);
    });

    for (const stopper of ["a maintenance window that closes", "the time box (AVD_MAX_RUN_MINUTES)"] as const) {
        it(`at ${stopper}, drains nothing new, finishes the hosts in flight and stops with every host in service; the next run goes on`, async () => {
            w = await world(10);
            for (let i = 1; i < 10; i++) signIn(w, String(i), [{ signsOutAfterDrainSeconds: 15 * 60 }]);
            const closesAt = w.clock.now() + 25 * MIN;
            const window = stopper === "a maintenance window that closes";
            const run = await rollout(
                w,
                window ? {} : { AVD_MAX_RUN_MINUTES: "25" },
                window ? { hooks: { mayStartDraining: (now) => (now < closesAt ? { allowed: true } : { allowed: false, reason: "the maintenance window has closed" }) } } : {},
            );

            assert.equal(run.code, 1);
            assert.match(run.err, window ? /Error: rollout paused: no host may start draining now \(the maintenance window has closed\): 3 of 10 hosts on 1\.2\.0/ : /Error: rollout paused after its time box of 25 min \(sessionHosts\.rollout\.maxRunMinutes\): 3 of 10 hosts on 1\.2\.0/);
            assert.match(run.err, /Every host is in service or left as it was found; nothing is in drain mode on the rollout's account\./);
            assert.ok(w.dv.drainChanges.filter((c) => !c.allowNewSession).every((c) => c.time < closesAt), "no drain after the end");
            assert.equal(w.dv.drainChanges.filter((c) => c.allowNewSession && c.time > closesAt).length, 2, "the two hosts in flight were finished after it");
            assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession && h.status === "Available"), "every host takes users");
            assert.equal(w.compute.instances(VMSS).filter((i) => i.upgrades === 1).length, 3);
            assertNoRolloutTags(w);

            const next = await rollout(w);
            assert.equal(next.code, 0, next.err);
            assertFinished(w);
        });
    }

    it("never drains below the serving floor, and upgrades hosts an administrator had drained but leaves them in drain mode", async () => {
        // 40% of 10: up to 4 in flight; floor 10 - 4 - 2 (20% unhealthy allowed) = 4 taking users. Four hosts are drained by an administrator.
        w = await world(10);
        for (const id of ["6", "7", "8", "9"]) w.dv.setAllowNewSession(HOST_POOL, id, false);
        for (let i = 0; i < 6; i++) signIn(w, String(i), [{ signsOutAfterDrainSeconds: 300 }]);
        const run = await rollout(w, { AVD_MAX_BATCH_PERCENT: "40", AVD_PAUSE_BETWEEN_BATCHES: "PT0S" });

        assert.equal(run.code, 0, run.err);
        assert.match(run.err, /avdprd000006, avdprd000007, avdprd000008 and avdprd000009 were in drain mode before the rollout \(not by it\): upgraded if needed, but left in drain mode/);
        assert.deepEqual(run.result?.hostsLeftDrained, ["avdprd000006", "avdprd000007", "avdprd000008", "avdprd000009"]);
        assertFinished(w, ["6", "7", "8", "9"]);
        for (const id of ["6", "7", "8", "9"]) {
            assert.ok(!w.dv.drainChanges.some((c) => idOf(c.sessionHostName) === id), `the rollout never touched host ${id}'s drain mode`);
            assert.match(reportRow(run, id), /upgraded to 1\.2\.0; left in drain mode as found \(drained before the rollout, not by it\)$/);
        }
        assert.equal(lowestAccepting(w), 4, "down to the floor of 4 hosts taking users, never below");
        const timeline = drainedOverTime(w);
        assert.equal(Math.max(...timeline.map((s) => s.drained.size)), 2, "only 2 of the 6 serving hosts out at once, though the step is 4");

        // A later run does not take them for hosts the rollout left behind.
        const again = await rollout(w);
        assert.equal(again.code, 0, again.err);
        assert.deepEqual(again.result?.hostsLeftDrained, ["avdprd000006", "avdprd000007", "avdprd000008", "avdprd000009"]);
        assertFinished(w, ["6", "7", "8", "9"]);
    });

    it("carries on without hosts deleted from the scale set mid-run, while draining or while upgrading, and reports them", async () => {
        w = await world(5);
        signIn(w, "3", [{ userPrincipalName: "stays@contoso.com", endsAfterPolls: "never" }]);
        let drainedWhenRemoved: boolean | undefined;
        w.compute.onReimage((_, instanceId, kind) => {
            if (kind !== "begin") return;
            if (instanceId === "2" && w.compute.hasInstance(VMSS, "2")) w.compute.removeInstance(VMSS, "2");
            if (instanceId === "4" && w.compute.hasInstance(VMSS, "3")) {
                drainedWhenRemoved = !w.dv.sessionHost(HOST_POOL, "3").allowNewSession;
                w.compute.removeInstance(VMSS, "3");
            }
        });
        const run = await rollout(w, { AVD_MAX_BATCH_PERCENT: "40", AVD_PAUSE_BETWEEN_BATCHES: "PT0S", AVD_DRAIN_TIMEOUT_MINUTES: "120" });

        assert.equal(run.code, 0, run.err);
        assert.equal(drainedWhenRemoved, true, "host 3 was waiting for its user when it was deleted");
        for (const id of ["2", "3"]) {
            assert.match(run.err, new RegExp(`avdprd00000${id} \\(instance ${id}\\) is no longer in the scale set: the rollout carries on without it`));
            assert.match(reportRow(run, id), /deleted from the scale set during the rollout$/);
        }
        assert.deepEqual(w.compute.instances(VMSS).map((i) => i.instanceId), ["0", "1", "4"]);
        assertFinished(w);
    });

    for (const prioritize of [true, false]) {
        it(`prioritizeUnhealthyInstances ${prioritize}: ${prioritize ? "the unhealthy host is the canary" : "the unhealthy host waits its turn"}`, async () => {
            w = await world(10, { "7": { health: "unhealthy" } });
            const run = await rollout(w, { AVD_PRIORITIZE_UNHEALTHY: String(prioritize), AVD_PAUSE_BETWEEN_BATCHES: "PT0S" });
            assert.equal(run.code, 0, run.err);
            assert.deepEqual(w.compute.manualUpgrades[0].instanceIds, [prioritize ? "7" : "0"]);
            if (!prioritize) assert.ok(w.compute.manualUpgrades.findIndex((u) => u.instanceIds.includes("7")) > 1);
            assertFinished(w);
            assert.ok(lowestAccepting(w) >= 7, `never fewer than 10 - 2 - 1 unhealthy taking users (lowest ${lowestAccepting(w)})`);
        });
    }
});
