// The drain-aware rollout against a fake that behaves like Azure when things go wrong: lost
// answers to requests Azure applied, users who are Disconnected, hosts an administrator
// drained, floating image references, hosts deleted mid-rollout, stop signals, time boxes
// and a second rollout of the same scale set. Each case checks the safe outcome and the
// per-host report the user reads.
import * as assert from "node:assert/strict";
import { prodRolloutEnv } from "./fixtures/prodRolloutEnv";
import { main, type MainOptions, type RolloutResult } from "../tools/rollout";
import { VirtualClock } from "../tools/azure/clock";
import { DRAINED_TAG, LOCK_TAG } from "../tools/rollout/marker";
import { ComputeModule } from "./fakeAzure/compute";
import { DesktopVirtualizationModule, type UserSessionSeed } from "./fakeAzure/desktopVirtualization";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure, type FakeAzureOptions } from "./fakeAzure/server";

const RG = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-prod`;
const VMSS = `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-prod`;
const HOST_POOL = `${RG}/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-prod`;
const DEFINITION = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365`;
const OLD = `${DEFINITION}/versions/1.1.0`;
const NEW = `${DEFINITION}/versions/1.2.0`;
const TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.rollout-faults-token";
const POLL_MS = 30_000;

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
}

async function world(capacity: number, options: Partial<FakeAzureOptions> = {}): Promise<World> {
    const clock = new VirtualClock();
    const compute = new ComputeModule();
    const dv = new DesktopVirtualizationModule({ compute });
    const fake = await startFakeAzure({ clock, acceptToken: TOKEN, ...options }, [compute, dv]);
    compute.addScaleSet({ id: VMSS, capacity, imageReferenceId: OLD, zones: ["1", "2", "3"], computerNamePrefix: "avdprd", upgradeMode: "Manual" });
    dv.addHostPool({ id: HOST_POOL, scaleSetId: VMSS, hostNameSuffix: ".contoso.local" });
    compute.setModelImage(VMSS, NEW);
    return { clock, fake, compute, dv };
}

function env(w: World, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    return prodRolloutEnv(
        { armUrl: w.fake.url, token: TOKEN, vmss: VMSS, hostPool: HOST_POOL, imageVersionId: NEW },
        {
            AVD_POLL_SECONDS: String(POLL_MS / 1000),
            // Lockstep batches (pacing: batch); tests/rolloutPaced.test.ts puts the default, paced by host, through the same faults.
            AVD_ROLLOUT_PACING: "batch",
            ...extra,
        },
    );
}

async function rollout(w: World, extra: Record<string, string | undefined> = {}, options: MainOptions = {}): Promise<Run> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await main(env(w, extra), { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { clock: w.clock, owner: "tester@ci", ...options });
    const last = stdout[stdout.length - 1];
    return { code, stderr, err: stderr.join("\n"), result: code === 0 && last ? (JSON.parse(last) as RolloutResult) : undefined };
}

function signIn(w: World, instanceId: string, sessions: UserSessionSeed[]): void {
    w.dv.addUserSessions(HOST_POOL, instanceId, sessions);
}

/** The report row of one host: `avdprd00000N  N  zone  image  health  AVD  drain  sessions  outcome`. */
function reportRow(run: Run, instanceId: string): string {
    const name = `avdprd${Number(instanceId).toString(36).padStart(6, "0")}`;
    const start = run.stderr.findIndex((l) => /rollout report: /.test(l));
    assert.ok(start >= 0, `the run printed its report:\n${run.err}`);
    const row = run.stderr.slice(start).find((l) => l.includes(`${name} `));
    assert.ok(row, `the report has a row for ${name}`);
    return row;
}

function assertAllUpgradedOnceAndServing(w: World, except: string[] = []): void {
    for (const i of w.compute.instances(VMSS)) {
        assert.equal(i.upgrades, 1, `instance ${i.instanceId} upgraded exactly once`);
        assert.ok(i.imageReferenceId.endsWith("/versions/1.2.0"));
    }
    for (const h of w.dv.sessionHosts(HOST_POOL)) {
        if (except.includes(h.instanceId) || !w.compute.hasInstance(VMSS, h.instanceId)) continue;
        assert.equal(h.allowNewSession, true, `host ${h.instanceId} is back in service`);
    }
}

function assertNoRolloutTags(w: World): void {
    const names = Object.keys(w.compute.tags(VMSS)).map((n) => n.toLowerCase());
    assert.ok(!names.includes(LOCK_TAG), "the lock is released");
    assert.ok(!names.includes(DRAINED_TAG), "no host is left on the rollout's drained list");
}

/** Largest gap between consecutive progress lines, from their elapsed-time prefixes. */
function longestSilenceMs(lines: string[]): number {
    const times = lines
        .map((l) => /^\[(?:(\d+)h)?(?:(\d+)m)?(\d+)s\]/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => (Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3])) * 1000);
    let gap = 0;
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
    return gap;
}

describe("drain-aware rollout in lockstep batches under faults", () => {
    let w: World;
    afterEach(async () => {
        await w?.fake.stop();
    });

    for (const status of [0, 500] as const) {
        it(`reconciles a manualupgrade Azure applied but answered with ${status === 0 ? "a dropped connection" : "HTTP 500"}: no second upgrade, nothing left drained`, async () => {
            w = await world(5);
            w.fake.injectFailure({ method: "POST", path: /\/manualupgrade$/, applied: true, status });
            const run = await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT0S" });

            assert.equal(run.code, 0, run.err);
            assert.match(run.err, new RegExp(`the answer to the upgrade request was lost \\(${status === 0 ? "connection dropped" : "HTTP 500"}\\); reading the instances`));
            assert.match(run.err, /Azure is already upgrading avdprd000000: not asked again/);
            assert.equal(w.fake.requestsMatching("POST", /\/manualupgrade$/).length, run.result?.batches, "one request per batch: the lost one was not repeated");
            assertAllUpgradedOnceAndServing(w);
            assertNoRolloutTags(w);
            assert.match(reportRow(run, "0"), /upgraded to 1\.2\.0, back in service$/);
            assert.deepEqual(w.fake.violations, []);
        });
    }

    it("sends manualupgrade again only when Azure had not started it (the request was lost before it was applied)", async () => {
        w = await world(3);
        w.fake.injectFailure({ method: "POST", path: /\/manualupgrade$/, status: 502 });
        const run = await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT0S", AVD_MAX_BATCH_PERCENT: "34" });

        assert.equal(run.code, 0, run.err);
        assert.match(run.err, /Azure has not started on avdprd000000: asking once more/);
        assertAllUpgradedOnceAndServing(w);
    });

    it("finishes a multi-batch rollout while a quarter of all answers are lost, every method included", async () => {
        w = await world(10, { lostResponses: { rate: 0.25 } });
        w.fake.injectFailure({ method: "POST", path: /\/sendMessage$/, applied: true, status: 0 });
        signIn(w, "4", [{ userPrincipalName: "ada@contoso.com", endsAfterPolls: 3 }]);
        signIn(w, "8", [{ userPrincipalName: "alan@contoso.com", endsAfterPolls: 2 }]);
        const run = await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT5M" });

        assert.equal(run.code, 0, run.err);
        const lost = w.fake.requests.filter((r) => r.lost);
        assert.ok(new Set(lost.map((r) => r.method)).size >= 3, `answers were lost for several methods: ${[...new Set(lost.map((r) => r.method))].join(", ")}`);
        assert.ok(lost.some((r) => r.method === "POST"), "including POSTs");
        assertAllUpgradedOnceAndServing(w);
        assertNoRolloutTags(w);
        assert.deepEqual(w.dv.sessionsLostToReimage, []);
        assert.deepEqual(w.fake.violations, [], "no request came sooner than a Retry-After allowed");
        for (let i = 0; i < 10; i++) assert.match(reportRow(run, String(i)), /upgraded to 1\.2\.0, back in service$/);
    });

    it("never signs out a Disconnected session unless the ring opted in, and never sends it a message it cannot see", async () => {
        w = await world(3);
        signIn(w, "0", [{ userPrincipalName: "away@contoso.com", state: "Disconnected", endsAfterPolls: "never" }]);
        const run = await rollout(w, { AVD_FORCE_LOGOFF: "true", AVD_DRAIN_TIMEOUT_MINUTES: "30", AVD_MAX_BATCH_PERCENT: "34" });

        assert.equal(run.code, 1);
        assert.match(run.err, /Error: rollout of 1\.2\.0 stopped: 1 user session\(s\) were still open on avdprd000000 after the drain timeout of 30 min; nobody was signed out/);
        assert.match(run.err, /avdprd000000\s+away@contoso\.com\s+Disconnected/);
        assert.match(run.err, /1 of them is Disconnected: those users cannot see a warning .* set drain\.logOffDisconnectedSessions: true/);
        assert.deepEqual(w.dv.logoffs, []);
        assert.deepEqual(w.dv.messages, [], "no message to a session that cannot show it");
        assert.equal(w.compute.instance(VMSS, "0").upgrades, 0);
        assert.match(reportRow(run, "0"), /1\.1\.0\s+healthy\s+Available\s+on\s+1\s+1 session\(s\) still open at the drain timeout: not upgraded, left in drain mode$/);
        assert.equal(w.compute.tags(VMSS)[DRAINED_TAG], "0", "the host is on the rollout's drained list for the next run");
        // The wait ended at its deadline (plus at most one poll), and said what it waited for at least every 5 minutes.
        const drainOn = w.dv.drainChanges.find((c) => !c.allowNewSession);
        assert.ok(drainOn);
        const last = w.fake.requests[w.fake.requests.length - 1];
        assert.ok(last.time - drainOn.time <= 30 * 60_000 + 2 * POLL_MS, "no wait beyond the drain timeout plus a poll");
        assert.ok(longestSilenceMs(run.stderr) <= 5 * 60_000 + POLL_MS, "a progress line at least every 5 minutes");
    });

    it("signs out Disconnected sessions at the drain timeout when drain.logOffDisconnectedSessions is on, and counts each kind", async () => {
        w = await world(3);
        signIn(w, "0", [
            { userPrincipalName: "away@contoso.com", state: "Disconnected", endsAfterPolls: "never" },
            { userPrincipalName: "late@contoso.com", state: "Active", endsAfterPolls: "never" },
        ]);
        const run = await rollout(w, { AVD_FORCE_LOGOFF: "true", AVD_LOG_OFF_DISCONNECTED: "true", AVD_DRAIN_TIMEOUT_MINUTES: "20", AVD_MAX_BATCH_PERCENT: "34" });

        assert.equal(run.code, 0, run.err);
        assert.deepEqual(run.result?.signedOutSessions, { active: 1, disconnected: 1 });
        assert.deepEqual(
            w.dv.logoffs.map((l) => [l.userPrincipalName, l.sessionState, l.force]).sort(),
            [
                ["away@contoso.com", "Disconnected", true],
                ["late@contoso.com", "Active", true],
            ],
        );
        assert.deepEqual(w.dv.messages.map((m) => m.userPrincipalName), ["late@contoso.com"]);
        assert.ok(w.dv.logoffs.every((l) => l.time - w.dv.messages[0].time >= 20 * 60_000));
        assert.match(run.err, /rollout report: 3 of 3 host\(s\) on 1\.2\.0; signed out 1 active session\(s\) after their warning and 1 disconnected session\(s\)/);
        assert.deepEqual(w.dv.sessionsLostToReimage, []);
    });

    it("warns a Disconnected user when they reconnect and gives them the whole warning period from then", async () => {
        w = await world(3);
        signIn(w, "0", [{ userPrincipalName: "back@contoso.com", state: "Disconnected", endsAfterPolls: "never", becomes: { state: "Active", afterPolls: 30 } }]);
        const run = await rollout(w, { AVD_FORCE_LOGOFF: "true", AVD_DRAIN_TIMEOUT_MINUTES: "20", AVD_MAX_BATCH_PERCENT: "34" });

        assert.equal(run.code, 0, run.err);
        assert.equal(w.dv.messages.length, 1);
        assert.equal(w.dv.messages[0].seen, true, "the message went out while the user was Active");
        assert.equal(w.dv.logoffs.length, 1);
        assert.equal(w.dv.logoffs[0].sessionState, "Active");
        assert.ok(w.dv.logoffs[0].time - w.dv.messages[0].time >= 20 * 60_000, "the whole warning period after the warning they saw");
        assert.deepEqual(run.result?.signedOutSessions, { active: 1, disconnected: 0 });
    });

    it("upgrades a host an administrator had drained but leaves it drained, and says so", async () => {
        w = await world(5);
        w.dv.setAllowNewSession(HOST_POOL, "2", false);
        const run = await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT0S", AVD_MAX_BATCH_PERCENT: "40" });

        assert.equal(run.code, 0, run.err);
        assert.match(run.err, /avdprd000002 was in drain mode before the rollout \(not by it\): upgraded if needed, but left in drain mode/);
        assert.equal(w.compute.instance(VMSS, "2").upgrades, 1, "upgraded: it is in scope");
        assert.equal(w.dv.sessionHost(HOST_POOL, "2").allowNewSession, false, "still drained");
        assert.ok(!w.dv.drainChanges.some((c) => c.sessionHostName.startsWith("avdprd000002")), "the rollout never touched its drain mode");
        assert.deepEqual(run.result?.hostsLeftDrained, ["avdprd000002"]);
        assert.match(reportRow(run, "2"), /upgraded to 1\.2\.0; left in drain mode as found \(drained before the rollout, not by it\)$/);
        assertAllUpgradedOnceAndServing(w, ["2"]);
        assertNoRolloutTags(w);

        // A later run does not take it for a host the rollout left behind.
        const again = await rollout(w);
        assert.equal(again.code, 0, again.err);
        assert.equal(w.dv.sessionHost(HOST_POOL, "2").allowNewSession, false);
    });

    it("refuses a scale set that follows the image definition's latest version before draining anything", async () => {
        w = await world(3);
        w.compute.setModelImage(VMSS, DEFINITION);
        const run = await rollout(w);

        assert.equal(run.code, 1);
        assert.match(run.err, /Error: the scale set vmss-avd-prod references the image definition \(useLatestImage: true\), not version 1\.2\.0: publishing a version leaves such a model unchanged/);
        assert.match(run.err, /set sessionHosts\.useLatestImage: false/);
        assert.deepEqual(w.dv.drainChanges, []);
        assert.deepEqual(w.compute.manualUpgrades, []);
    });

    it("carries on without a host deleted from the scale set while it was being upgraded, and reports it", async () => {
        w = await world(5);
        let removed = false;
        w.compute.onReimage((_, instanceId, kind) => {
            if (kind === "begin" && instanceId === "0" && !removed) {
                removed = true;
                w.compute.removeInstance(VMSS, "0");
            }
        });
        const run = await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT0S" });

        assert.equal(run.code, 0, run.err);
        assert.match(run.err, /avdprd000000 \(instance 0\) is no longer in the scale set: the rollout carries on without it/);
        assert.match(reportRow(run, "0"), /deleted from the scale set during the rollout$/);
        assert.equal(w.compute.instances(VMSS).length, 4);
        assertAllUpgradedOnceAndServing(w);
        assertNoRolloutTags(w);
    });

    it("on SIGTERM while users are leaving, puts the batch back in service and exits non-zero saying where it stopped", async () => {
        w = await world(5);
        for (const id of ["0", "1", "2", "3", "4"]) signIn(w, id, [{ endsAfterPolls: "never" }]);
        const stop = new AbortController();
        const running = rollout(w, { AVD_DRAIN_TIMEOUT_MINUTES: "120" }, { signal: stop.signal });
        // Raised once the canary is draining and its user has been warned.
        while (w.dv.messages.length === 0) await new Promise((resolve) => setImmediate(resolve));
        stop.abort("SIGTERM");
        const run = await running;

        assert.equal(run.code, 1);
        assert.match(run.err, /Error: rollout stopped by SIGTERM: 0 of 5 hosts on 1\.2\.0; run `pulumi up` again to continue\./);
        assert.match(run.err, /No host is in drain mode on the rollout's account/);
        assert.match(reportRow(run, "0"), /stopped before its upgrade: back in service on 1\.1\.0$/);
        assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession), "every host takes users again");
        assert.deepEqual(w.compute.manualUpgrades, []);
        assertNoRolloutTags(w);
    });

    it("on SIGTERM during an upgrade, leaves that batch drained and marked, and the next run finishes it first", async () => {
        w = await world(5);
        const stop = new AbortController();
        w.compute.onReimage((_, _instanceId, kind) => {
            if (kind === "begin" && w.compute.manualUpgrades.length === 1) stop.abort("SIGTERM");
        });
        const first = await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT0S", AVD_MAX_BATCH_PERCENT: "40" }, { signal: stop.signal });

        assert.equal(first.code, 1);
        const inFlight = w.compute.manualUpgrades[1].instanceIds;
        assert.match(first.err, /Error: rollout stopped by SIGTERM: 1 of 5 hosts on 1\.2\.0; run `pulumi up` again to continue\./);
        assert.match(first.err, /tag avd-image-rings-rollout-drained lists them, and the next run finishes them first/);
        for (const id of inFlight) assert.match(reportRow(first, id), /upgrade under way when stopped: left in drain mode, the next run finishes it$/);
        const drained = w.dv.sessionHosts(HOST_POOL).filter((h) => !h.allowNewSession).map((h) => h.instanceId);
        assert.deepEqual(drained.sort(), [...inFlight].sort(), "only the batch being upgraded is drained");
        assert.ok(!Object.keys(w.compute.tags(VMSS)).includes(LOCK_TAG), "the lock was released on the way out");
        assert.ok(w.compute.tags(VMSS)[DRAINED_TAG], "the drained hosts are on the marker");

        const second = await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT0S", AVD_MAX_BATCH_PERCENT: "40" });
        assert.equal(second.code, 0, second.err);
        assert.match(second.err, /batch 1: finishing 2 host\(s\) an earlier run left in drain mode/);
        assertAllUpgradedOnceAndServing(w);
        assertNoRolloutTags(w);
    });

    it("stops cleanly between batches at sessionHosts.rollout.maxRunMinutes, and the next run continues", async () => {
        w = await world(10);
        const first = await rollout(w, { AVD_MAX_RUN_MINUTES: "30" });

        assert.equal(first.code, 1);
        assert.match(first.err, /Error: rollout paused after its time box of 30 min \(sessionHosts\.rollout\.maxRunMinutes\): \d of 10 hosts on 1\.2\.0; run `pulumi up` again to continue\./);
        assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession), "no host is left drained");
        const done = w.compute.instances(VMSS).filter((i) => i.upgrades === 1).length;
        assert.ok(done > 0 && done < 10);
        assertNoRolloutTags(w);

        const second = await rollout(w, {});
        assert.equal(second.code, 0, second.err);
        assertAllUpgradedOnceAndServing(w);
    });

    it("keeps its lock and its drained hosts when a scale-set update replaces the tags mid-rollout", async () => {
        w = await world(5);
        w.compute.replaceTags(VMSS, { costCenter: "avd" });
        let replaced = false;
        w.compute.onReimage((_, instanceId, kind) => {
            if (kind === "begin" && instanceId === "0" && !replaced) {
                replaced = true;
                w.compute.replaceTags(VMSS, { costCenter: "avd" });
            }
        });
        const run = await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT0S" });

        assert.equal(run.code, 0, run.err);
        assert.ok(replaced);
        assertAllUpgradedOnceAndServing(w);
        assertNoRolloutTags(w);
        assert.deepEqual(w.compute.tags(VMSS), { costCenter: "avd" }, "the program's own tags are left alone");
    });

    it("caps a day-long Retry-After on the upgrade's status by its own health timeout, and keeps saying what it waits for", async () => {
        w = await world(3);
        w.fake.operationRetryAfterSeconds = 24 * 3600;
        const run = await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT40M", AVD_MAX_BATCH_PERCENT: "34", AVD_HEALTH_TIMEOUT_MINUTES: "30" });

        assert.equal(run.code, 0, run.err);
        assert.match(run.err, /Azure asks to wait .+ before the next status check of the upgrade, beyond the health timeout: judging the hosts by their own state instead/);
        assert.match(run.err, /pausing between batches: next batch in /);
        // The fake also applies a 202's Retry-After to the next POST on the same path (the next batch's
        // manualupgrade, a new operation); what matters here is that no status poll came early.
        assert.deepEqual(w.fake.violations.filter((v) => v.method === "GET"), [], "never polled before the Retry-After");
        assertAllUpgradedOnceAndServing(w);
        assert.ok(longestSilenceMs(run.stderr) <= 5 * 60_000 + POLL_MS, `a progress line at least every 5 minutes (longest silence ${longestSilenceMs(run.stderr) / 1000} s)`);
        // Three batches, two 40-minute pauses: the day-long Retry-After never held anything up.
        assert.ok(w.clock.now() - w.compute.manualUpgrades[0].time < 3 * 3600_000);
    });

    it("does not sleep for a day when a list call is throttled with a day-long Retry-After: it stops at once, saying why", async () => {
        w = await world(3);
        w.fake.injectFailure({ method: "GET", path: /\/userSessions$/, status: 429, retryAfterSeconds: 24 * 3600, count: 1000 });
        const started = w.clock.now();
        const run = await rollout(w, { AVD_DRAIN_TIMEOUT_MINUTES: "60", AVD_HEALTH_TIMEOUT_MINUTES: "45" });

        assert.equal(run.code, 1);
        assert.match(run.err, /Azure asked to retry in 24h00m00s, longer than this tool waits for one call \(1h00m00s\)/);
        assert.ok(w.clock.now() - started <= 60 * 60_000 + POLL_MS, `ended after ${(w.clock.now() - started) / 60_000} min`);
        assert.deepEqual(w.fake.violations, [], "never retried before the Retry-After");
    });

    it("never lets two rollouts of one scale set act at once: the second says who holds the lock", async () => {
        w = await world(5);
        const [a, b] = await Promise.all([rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT0S" }, { owner: "alice@laptop" }), rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT0S" }, { owner: "bob@ci" })]);

        const winner = a.code === 0 ? a : b;
        const loser = a.code === 0 ? b : a;
        assert.equal(winner.code, 0, winner.err);
        assert.equal(loser.code, 1);
        assert.match(loser.err, /Error: another rollout of this scale set is running: held by (alice@laptop|bob@ci) \(run [0-9a-f-]+, rolling out 1\.2\.0\) until /);
        assertAllUpgradedOnceAndServing(w);
        assertNoRolloutTags(w);

        // A run that starts while another is mid-rollout is refused too.
        w.compute.setModelImage(VMSS, OLD);
        const longer = rollout(w, { AVD_IMAGE_VERSION_ID: OLD }, { owner: "alice@laptop" });
        while (w.compute.manualUpgrades.length < 6) await new Promise((resolve) => setImmediate(resolve));
        const late = await rollout(w, { AVD_IMAGE_VERSION_ID: OLD }, { owner: "bob@ci" });
        assert.equal(late.code, 1);
        assert.match(late.err, /held by alice@laptop/);
        assert.equal((await longer).code, 0);
    });
});

describe("fake AVD and Compute answer as Azure does", () => {
    let w: World;
    afterEach(async () => {
        await w?.fake.stop();
    });

    async function call(method: string, path: string, apiVersion: string, body?: unknown): Promise<Response> {
        return fetch(`${w.fake.url}${path}?api-version=${apiVersion}`, { method, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    }

    async function sessionHost(instanceId: string): Promise<{ status: string; lastHeartBeat: string }> {
        const res = await call("GET", `${HOST_POOL}/sessionHosts`, "2024-04-03");
        const list = (await res.json()) as { value: Array<{ properties: { status: string; lastHeartBeat: string; resourceId: string } }> };
        const host = list.value.find((h) => h.properties.resourceId.endsWith(`/virtualMachines/${instanceId}`));
        assert.ok(host);
        return host.properties;
    }

    it("reports a reimaged host's AVD status from the agent's last heartbeat, tens of seconds late", async () => {
        w = await world(2);
        const before = await sessionHost("0");
        await w.clock.sleep(60_000);
        assert.ok(Date.parse((await sessionHost("0")).lastHeartBeat) > Date.parse(before.lastHeartBeat), "lastHeartBeat advances");

        const upgrade = await call("POST", `${VMSS}/manualupgrade`, "2024-11-01", { instanceIds: ["0"] });
        assert.equal(upgrade.status, 202);
        assert.ok(upgrade.headers.get("azure-asyncoperation"), "202 with Azure-AsyncOperation");
        assert.ok(upgrade.headers.get("location"), "and Location");
        await w.clock.sleep(20_000);
        assert.equal((await sessionHost("0")).status, "Available", "the VM is down, but AVD still shows the last heartbeat's status");
        await w.clock.sleep(120_000);
        assert.equal((await sessionHost("0")).status, "Unavailable", "until the heartbeat is overdue");
    });

    it("accepts a message to a Disconnected session without the user seeing it", async () => {
        w = await world(1);
        signIn(w, "0", [{ userPrincipalName: "away@contoso.com", state: "Disconnected", endsAfterPolls: "never" }]);
        const sessions = (await (await call("GET", `${HOST_POOL}/userSessions`, "2024-04-03")).json()) as { value: Array<{ id: string; properties: { sessionState: string } }> };
        assert.equal(sessions.value[0].properties.sessionState, "Disconnected");
        const res = await call("POST", `${sessions.value[0].id}/sendMessage`, "2024-04-03", { messageTitle: "t", messageBody: "b" });
        assert.equal(res.status, 200);
        assert.deepEqual(w.dv.messages.map((m) => [m.sessionState, m.seen]), [["Disconnected", false]]);
    });
});
