import * as assert from "node:assert/strict";
import { main, type MainOptions, type RolloutResult } from "../tools/rollout";
import { prodRolloutEnv } from "./fixtures/prodRolloutEnv";
import { LOCK_LEASE_MS } from "../tools/rollout/marker";
import { VirtualClock } from "../tools/azure/clock";
import { ComputeModule } from "./fakeAzure/compute";
import { DesktopVirtualizationModule, type UserSessionSeed } from "./fakeAzure/desktopVirtualization";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure, type FakeAzureOptions } from "./fakeAzure/server";

const RG = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-prod`;
const VMSS = `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-prod`;
const HOST_POOL = `${RG}/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-prod`;
const DEFINITION = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365`;
const OLD = `${DEFINITION}/versions/1.1.0`;
const NEW = `${DEFINITION}/versions/1.2.0`;
const TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.rollout-test-token";

interface World {
    clock: VirtualClock;
    fake: FakeAzure;
    compute: ComputeModule;
    dv: DesktopVirtualizationModule;
}

interface Run {
    code: number;
    stdout: string[];
    stderr: string[];
    result?: RolloutResult;
}

async function world(capacity = 10, options: Partial<FakeAzureOptions> = {}): Promise<World> {
    const clock = new VirtualClock();
    const compute = new ComputeModule();
    const dv = new DesktopVirtualizationModule({ compute });
    const fake = await startFakeAzure({ clock, acceptToken: TOKEN, ...options }, [compute, dv]);
    compute.addScaleSet({ id: VMSS, capacity, imageReferenceId: OLD, zones: ["1", "2", "3"], computerNamePrefix: "avdprd", upgradeMode: "Manual" });
    dv.addHostPool({ id: HOST_POOL, scaleSetId: VMSS, hostNameSuffix: ".contoso.local" });
    // What `pulumi up` did before the rollout command runs: the model references the new version.
    compute.setModelImage(VMSS, NEW);
    return { clock, fake, compute, dv };
}

function envFor(w: World, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    return prodRolloutEnv(
        { armUrl: w.fake.url, token: TOKEN, vmss: VMSS, hostPool: HOST_POOL, imageVersionId: NEW },
        {
            // These suites check the lockstep batches (pacing: batch); tests/rolloutPaced.test.ts checks the default, paced by host.
            AVD_ROLLOUT_PACING: "batch",
            ...extra,
        },
    );
}

async function rollout(w: World, extra: Record<string, string | undefined> = {}, options: MainOptions = {}): Promise<Run> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await main(envFor(w, extra), { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { clock: w.clock, owner: "tester@ci", ...options });
    const last = stdout[stdout.length - 1];
    return { code, stdout, stderr, result: code === 0 && last ? (JSON.parse(last) as RolloutResult) : undefined };
}

function signIn(w: World, instanceId: string, sessions: UserSessionSeed[]): void {
    w.dv.addUserSessions(HOST_POOL, instanceId, sessions);
}

/** Most session hosts ever in drain mode at the same time, replayed from the fake's log. */
function maxDrainedAtOnce(w: World, initiallyDrained = 0): number {
    let drained = initiallyDrained;
    let max = drained;
    for (const c of w.dv.drainChanges) {
        drained += c.allowNewSession ? -1 : 1;
        max = Math.max(max, drained);
    }
    return max;
}

function onVersion(w: World, version: string): string[] {
    return w.compute
        .instances(VMSS)
        .filter((i) => i.imageReferenceId.endsWith(`/versions/${version}`))
        .map((i) => i.instanceId);
}

describe("drain-aware rollout in lockstep batches (tools/rollout.ts, pacing: batch)", () => {
    let w: World;
    afterEach(async () => {
        await w?.fake.stop();
    });

    it("upgrades 10 hosts in 20% batches, starting with one canary, without throwing anyone out", async () => {
        w = await world();
        signIn(w, "3", [{ userPrincipalName: "ada@contoso.com", endsAfterPolls: 3 }, { userPrincipalName: "alan@contoso.com", state: "Disconnected", endsAfterPolls: 2 }]);
        signIn(w, "7", [{ userPrincipalName: "grace@contoso.com", endsAfterPolls: 1 }]);
        const run = await rollout(w);

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.deepEqual(run.result, { imageVersion: "1.2.0", imageVersionId: NEW, instancesUpgraded: 10, instancesAlreadyCurrent: 0, batches: 6, signedOutSessions: { active: 0, disconnected: 0 }, hostsLeftDrained: [] });
        assert.deepEqual(
            w.compute.manualUpgrades.map((u) => u.instanceIds.length),
            [1, 2, 2, 2, 2, 1],
            "a canary, then batches of 20%",
        );
        for (const i of w.compute.instances(VMSS)) {
            assert.equal(i.upgrades, 1, `instance ${i.instanceId} upgraded exactly once`);
            assert.ok(i.latestModelApplied);
        }
        assert.equal(onVersion(w, "1.2.0").length, 10);
        assert.ok(
            w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession && h.status === "Available"),
            "every host is back in service",
        );
        assert.deepEqual(w.dv.sessionsLostToReimage, [], "no host was reimaged with a user on it");
        assert.deepEqual(w.dv.logoffs, [], "nobody was signed out");
        // Grace is signing out (LogOff) as the drain starts and Alan is Disconnected: neither could see a message.
        assert.deepEqual(
            w.dv.messages.map((m) => [m.userPrincipalName, m.title, m.seen]),
            [["ada@contoso.com", "Session host maintenance", true]],
            "every active user was told once",
        );
        assert.ok(maxDrainedAtOnce(w) <= 2, "never more than one batch in drain mode");
        const zonesOfSecondBatch = w.compute.manualUpgrades[1].instanceIds.map((id) => w.compute.instance(VMSS, id).zone);
        assert.equal(new Set(zonesOfSecondBatch).size, 2, "a batch spreads over zones");

        // Pause between batches: each batch starts draining at least PT10M after the previous one returned to service.
        const undrains = w.dv.drainChanges.filter((c) => c.allowNewSession).map((c) => c.time);
        const drains = w.dv.drainChanges.filter((c) => !c.allowNewSession).map((c) => c.time);
        for (let b = 1; b < w.compute.manualUpgrades.length; b++) {
            const batchStart = w.compute.manualUpgrades[b].time;
            const previousEnd = Math.max(...undrains.filter((t) => t < batchStart));
            const drainStart = Math.min(...drains.filter((t) => t > previousEnd));
            assert.ok(drainStart - previousEnd >= 10 * 60_000, `batch ${b + 1} waited the pause`);
        }

        // Calls grow with batches, not hosts x polls: reads are list calls, writes one per host action.
        assert.deepEqual(w.fake.requestsMatching("GET", /\/sessionHosts\/[^/]+$/), [], "no per-host session host reads");
        assert.deepEqual(w.fake.requestsMatching("GET", /\/virtualMachines\/[^/]+$/), [], "no per-instance reads");
        assert.equal(w.fake.requestsMatching("PATCH", /\/sessionHosts\//).length, 20, "drain and undrain, once per host");
        assert.equal(w.fake.requestsMatching("POST", /\/sendMessage$/).length, 1);
        assert.equal(w.fake.requestsMatching("POST", /\/manualupgrade$/).length, 6);
        assert.deepEqual(w.fake.violations, []);
        assert.ok(run.stderr.every((l) => /^\[(\d+h)?(\d+m)?\d+s\] /.test(l)), "progress lines carry the elapsed time");
        assert.match(run.stderr.join("\n"), /waiting for 2 user session\(s\) to end \(avdprd000003 2\)/);
        const all = [...run.stdout, ...run.stderr].join("\n");
        assert.ok(!all.includes(TOKEN), "the token is never printed");
    });

    it("sends every AVD call through @azure/arm-desktopvirtualization at api-version 2024-04-03, on the ARM client's transmit path", async () => {
        w = await world(3);
        signIn(w, "1", [{ userPrincipalName: "ada@contoso.com", endsAfterPolls: 2 }]);
        signIn(w, "2", [{ userPrincipalName: "alan@contoso.com", endsAfterPolls: 1 }]);
        const run = await rollout(w);
        assert.equal(run.code, 0, run.stderr.join("\n"));
        const avd = w.fake.requests.filter((r) => r.path.includes("/providers/Microsoft.DesktopVirtualization/"));
        const kinds: Array<[string, RegExp]> = [
            ["GET", /\/hostPools\/[^/]+\/sessionHosts$/],
            ["GET", /\/hostPools\/[^/]+\/userSessions$/],
            ["PATCH", /\/sessionHosts\/[^/]+$/],
            ["POST", /\/userSessions\/[^/]+\/sendMessage$/],
        ];
        for (const [method, path] of kinds) assert.ok(avd.some((r) => r.method === method && path.test(r.path)), `the rollout sent ${method} ${path}`);
        for (const r of avd) {
            assert.equal(new URLSearchParams(r.query).get("api-version"), "2024-04-03", `${r.method} ${r.path}`);
            assert.match(r.userAgent ?? "", /azsdk-js-arm-desktopvirtualization\/1\.2\.0/, `${r.method} ${r.path} was sent by the official client`);
            assert.equal(r.auth, "bearer", `${r.method} ${r.path} carries the ARM token`);
        }
        // Compute calls stay hand-written, and the SDK adds no requests of its own (no retries of its own).
        assert.ok(w.fake.requests.filter((r) => r.path.includes("/Microsoft.Compute/")).every((r) => !/azsdk-js/.test(r.userAgent ?? "")));
        assert.deepEqual(w.fake.violations, []);
    });

    it("stops at a host whose users never leave: nobody is signed out without a message, untouched hosts keep serving", async () => {
        w = await world(5);
        signIn(w, "1", [{ userPrincipalName: "stays@contoso.com", endsAfterPolls: "never" }]);
        const run = await rollout(w, { AVD_DRAIN_MESSAGE_BODY: undefined, AVD_DRAIN_MESSAGE_TITLE: undefined, AVD_FORCE_LOGOFF: "true", AVD_DRAIN_TIMEOUT_MINUTES: "30" });

        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.match(err, /AVD_FORCE_LOGOFF is ignored: no AVD_DRAIN_MESSAGE_BODY is set/);
        assert.match(err, /Error: rollout of 1\.2\.0 stopped: 1 user session\(s\) were still open on avdprd000001 after the drain timeout of 30 min; nobody was signed out/);
        assert.match(err, /avdprd000001\s+stays@contoso\.com\s+Active/);
        assert.match(err, /set drain\.messageBody \(and drain\.forceLogoffAfterTimeout: true\)/);
        assert.deepEqual(w.dv.logoffs, []);
        assert.deepEqual(w.dv.messages, []);
        const stuck = w.dv.sessionHost(HOST_POOL, "1");
        assert.equal(stuck.sessions.length, 1, "the user is still signed in");
        assert.equal(stuck.allowNewSession, false, "and no new users are sent there");
        assert.equal(w.compute.instance(VMSS, "1").upgrades, 0, "the host was not reimaged");
        const upgraded = onVersion(w, "1.2.0");
        const untouched = onVersion(w, "1.1.0").filter((id) => id !== "1");
        assert.ok(untouched.length > 0);
        for (const id of untouched) {
            assert.equal(w.compute.instance(VMSS, id).upgrades, 0);
            assert.equal(w.dv.sessionHost(HOST_POOL, id).allowNewSession, true, `untouched host ${id} keeps taking users`);
        }
        for (const id of upgraded) assert.equal(w.dv.sessionHost(HOST_POOL, id).allowNewSession, true, `upgraded host ${id} is back in service`);
        assert.deepEqual(w.dv.sessionsLostToReimage, []);
    });

    it("signs users out after the drain timeout only when they were warned and forced logoff is on", async () => {
        w = await world(3);
        signIn(w, "0", [{ userPrincipalName: "late@contoso.com", endsAfterPolls: "never" }]);
        const run = await rollout(w, { AVD_FORCE_LOGOFF: "true", AVD_DRAIN_TIMEOUT_MINUTES: "20", AVD_MAX_BATCH_PERCENT: "34" });

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.equal(w.dv.messages.length, 1);
        assert.match(w.dv.messages[0].body, /^This desktop is being updated\. Please save your work and sign out\.\n\nSessions still open in 20 minutes will be signed out automatically\.$/);
        assert.equal(w.dv.logoffs.length, 1);
        assert.equal(w.dv.logoffs[0].userPrincipalName, "late@contoso.com");
        assert.equal(w.dv.logoffs[0].force, true);
        assert.ok(w.dv.logoffs[0].time - w.dv.messages[0].time >= 20 * 60_000, "the user had the whole drain timeout after the warning");
        assert.deepEqual(w.dv.sessionsLostToReimage, []);
        assert.equal(onVersion(w, "1.2.0").length, 3);
    });

    it("stops with a per-host report when an upgraded host comes back unhealthy, leaving the rest on the old version", async () => {
        w = await world();
        w.compute.scenario(VMSS, "0", { healthAfterUpgrade: "unhealthy" });
        const run = await rollout(w);

        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.match(err, /Error: rollout of 1\.2\.0 stopped: 1 of 1 host\(s\) on the new image are unhealthy \(100% > maxUnhealthyUpgradedInstancePercent 20%\)/);
        assert.match(err, /avdprd000000\s+0\s+1\s+1\.2\.0\s+unhealthy\s+Available\s+on\s+0/);
        assert.match(err, /9 host\(s\) were not touched and stay on 1\.1\.0, taking users as before/);
        assert.match(err, /roll back by setting avd-image-rings:imageVersion to the previous version/);
        assert.deepEqual(w.compute.manualUpgrades.map((u) => u.instanceIds), [["0"]], "only the canary was upgraded");
        assert.equal(w.dv.sessionHost(HOST_POOL, "0").allowNewSession, false, "the unhealthy host gets no users");
        for (let i = 1; i < 10; i++) {
            assert.equal(w.compute.instance(VMSS, String(i)).imageReferenceId, OLD);
            assert.equal(w.dv.sessionHost(HOST_POOL, String(i)).allowNewSession, true);
        }
    });

    it("rolls back: with the previous version pinned again, only hosts already on the new version are moved back", async () => {
        w = await world(10);
        w.compute.scenario(VMSS, "0", { healthAfterUpgrade: "unhealthy" });
        assert.equal((await rollout(w)).code, 1, "1.2.0 is bad on its canary");

        // Runbook: imageVersion back to 1.1.0 and `pulumi up`: the model references 1.1.0 again, then the rollout runs for it.
        w.compute.scenario(VMSS, "0", { healthAfterUpgrade: "healthy" });
        w.compute.setModelImage(VMSS, OLD);
        const back = await rollout(w, { AVD_IMAGE_VERSION_ID: OLD });

        assert.equal(back.code, 0, back.stderr.join("\n"));
        assert.deepEqual(back.result, { imageVersion: "1.1.0", imageVersionId: OLD, instancesUpgraded: 1, instancesAlreadyCurrent: 9, batches: 1, signedOutSessions: { active: 0, disconnected: 0 }, hostsLeftDrained: [] });
        assert.equal(onVersion(w, "1.1.0").length, 10);
        assert.equal(w.compute.instance(VMSS, "0").upgrades, 2);
        for (let i = 1; i < 10; i++) assert.equal(w.compute.instance(VMSS, String(i)).upgrades, 0, "hosts that never left 1.1.0 are not touched");
        assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession && h.status === "Available"));
    });

    it("treats a host that never reports Available as unhealthy", async () => {
        w = await world(5);
        w.dv.scenario(HOST_POOL, "0", { statusAfterUpgrade: "Unavailable" });
        const run = await rollout(w, { AVD_HEALTH_TIMEOUT_MINUTES: "20" });

        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.match(err, /avdprd000000 \(AVD status Unavailable\) not ready after 20 min: left in drain mode/);
        assert.match(err, /1 of 1 host\(s\) on the new image are unhealthy/);
        assert.equal(onVersion(w, "1.1.0").length, 4);
    });

    it("carries on when unhealthy upgraded hosts stay within the tolerance, keeping them out of service", async () => {
        w = await world(10);
        w.compute.scenario(VMSS, "0", { healthAfterUpgrade: "unhealthy" });
        const run = await rollout(w, { AVD_MAX_UNHEALTHY_UPGRADED_PERCENT: "100", AVD_MAX_UNHEALTHY_PERCENT: "20" });

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.deepEqual(
            w.compute.manualUpgrades.map((u) => u.instanceIds.length),
            [1, 1, 2, 2, 2, 2],
            "after an unhealthy canary the next batch is a single host again",
        );
        assert.equal(w.dv.sessionHost(HOST_POOL, "0").allowNewSession, false);
        assert.equal(onVersion(w, "1.2.0").length, 10);
    });

    it("honours 429 Retry-After and injected 5xx failures without a single early retry", async () => {
        w = await world(5, { throttle: { reads: { capacity: 4, refillPerSecond: 0.5 }, writes: { capacity: 2, refillPerSecond: 0.2 } } });
        signIn(w, "2", [{ endsAfterPolls: 2 }]);
        w.fake.injectFailure({ method: "POST", path: /\/manualupgrade$/, status: 429, retryAfterSeconds: 17 });
        w.fake.injectFailure({ method: "PATCH", path: /\/sessionHosts\//, status: 500 });
        w.fake.injectFailure({ method: "GET", path: /\/userSessions$/, status: 429, retryAfterSeconds: 40 });
        const run = await rollout(w, { AVD_MAX_BATCH_PERCENT: "40" });

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.ok(w.fake.requests.filter((r) => r.throttled).length > 0, "the bucket did throttle");
        assert.ok(w.fake.requests.filter((r) => r.injected).length === 3);
        assert.deepEqual(w.fake.violations, [], "no request came sooner than a Retry-After allowed");
        assert.equal(onVersion(w, "1.2.0").length, 5);
        for (const i of w.compute.instances(VMSS)) assert.equal(i.upgrades, 1);
    });

    it("resumes after a crash while a batch was draining: the drained hosts are finished first, nothing is upgraded twice", async () => {
        w = await world();
        signIn(w, "5", [{ userPrincipalName: "slow@contoso.com", endsAfterPolls: 4 }]);
        // PATCH order: batch 1 drains + undrains one host, batch 2 two, then batch 3 drains its first
        // host and the process dies right after draining the second one.
        w.compute.crash.arm("PATCH", /\/sessionHosts\//, 7);
        const first = await rollout(w);
        assert.equal(first.code, 1);
        assert.match(first.stderr.join("\n"), /Error: an Azure call failed: PATCH .* 503/);
        const drainedByCrash = w.dv.sessionHosts(HOST_POOL).filter((h) => !h.allowNewSession).map((h) => h.instanceId);
        assert.equal(drainedByCrash.length, 2, "the crash left batch 3 in drain mode");
        const upgradedBefore = w.compute.manualUpgrades.flatMap((u) => u.instanceIds);
        assert.equal(upgradedBefore.length, 3);

        w.compute.crash.recover();
        // The crashed run's lock holds until its lease runs out; then the next run resumes.
        const drainsBefore = w.dv.drainChanges.length;
        const blocked = await rollout(w);
        assert.equal(blocked.code, 1);
        assert.match(blocked.stderr.join("\n"), /Error: another rollout of this scale set is running: held by tester@ci \(run [0-9a-f-]+, rolling out 1\.2\.0\)/);
        assert.equal(w.dv.drainChanges.length, drainsBefore, "the blocked run changed nothing");
        w.clock.advance(LOCK_LEASE_MS);
        const second = await rollout(w);
        assert.equal(second.code, 0, second.stderr.join("\n"));
        assert.match(second.stderr.join("\n"), /batch 1: finishing 2 host\(s\) an earlier run left in drain mode/);
        const secondRun = w.compute.manualUpgrades.slice(2);
        assert.deepEqual([...secondRun[0].instanceIds].sort(), [...drainedByCrash].sort(), "the drained hosts are upgraded first");
        for (const i of w.compute.instances(VMSS)) assert.equal(i.upgrades, 1, `instance ${i.instanceId} upgraded once across both runs`);
        assert.deepEqual(second.result, { imageVersion: "1.2.0", imageVersionId: NEW, instancesUpgraded: 7, instancesAlreadyCurrent: 3, batches: second.result?.batches, signedOutSessions: { active: 0, disconnected: 0 }, hostsLeftDrained: [] });
        assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession));
        assert.deepEqual(w.dv.sessionsLostToReimage, []);
        assert.deepEqual(w.fake.violations, []);
    });

    it("resumes after a crash right after Azure accepted an upgrade: waits for it instead of upgrading again", async () => {
        w = await world(5);
        // Upgrades outlast the crashed run's lock lease, so the next run finds the upgrade still running.
        w.compute.upgradeSeconds = 30 * 60;
        w.compute.crash.arm("POST", /\/manualupgrade$/, 1);
        const first = await rollout(w, { AVD_MAX_BATCH_PERCENT: "40" });
        assert.equal(first.code, 1);
        const accepted = w.compute.manualUpgrades.map((u) => u.instanceIds);
        assert.equal(accepted.length, 2, "the second upgrade reached Azure before the crash");

        w.compute.crash.recover();
        w.clock.advance(LOCK_LEASE_MS);
        const second = await rollout(w, { AVD_MAX_BATCH_PERCENT: "40" });
        assert.equal(second.code, 0, second.stderr.join("\n"));
        const err = second.stderr.join("\n");
        assert.match(err, /waiting for Azure to finish operations already running on avdprd00000\d and avdprd00000\d/);
        assert.match(err, /finishing 2 host\(s\) an earlier run left in drain mode: avdprd00000\d \(on 1\.2\.0\) and avdprd00000\d \(on 1\.2\.0\)/);
        for (const i of w.compute.instances(VMSS)) assert.equal(i.upgrades, 1, `instance ${i.instanceId} upgraded once`);
        assert.equal(second.result?.instancesAlreadyCurrent, 1);
        assert.equal(second.result?.instancesUpgraded, 2);
        assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession && h.status === "Available"));
    });

    it("does nothing when every host already runs the target version", async () => {
        w = await world(4);
        assert.equal((await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT0S" })).code, 0);
        const again = await rollout(w);
        assert.deepEqual(again.result, { imageVersion: "1.2.0", imageVersionId: NEW, instancesUpgraded: 0, instancesAlreadyCurrent: 4, batches: 0, signedOutSessions: { active: 0, disconnected: 0 }, hostsLeftDrained: [] });
        assert.equal(w.fake.requestsMatching("POST", /\/manualupgrade$/).length, 4, "only the first run upgraded (one host per batch)");
    });

    it("leaves hosts on the target image alone when only other model settings changed (a renewed registration token)", async () => {
        w = await world(4);
        assert.equal((await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "PT0S" })).code, 0);
        w.compute.touchModel(VMSS);
        const drainsBefore = w.dv.drainChanges.length;
        const again = await rollout(w);
        assert.equal(again.code, 0);
        assert.equal(again.result?.instancesUpgraded, 0);
        assert.equal(again.result?.instancesAlreadyCurrent, 4);
        assert.equal(w.dv.drainChanges.length, drainsBefore, "nobody was drained");
    });

    it("refuses to run before the scale set's model references the target version", async () => {
        w = await world(3);
        w.compute.setModelImage(VMSS, OLD);
        const run = await rollout(w);
        assert.equal(run.code, 1);
        assert.match(run.stderr.join("\n"), /does not reference image version 1\.2\.0: its model has .*\/versions\/1\.1\.0/);
        assert.deepEqual(w.dv.drainChanges, []);
    });

    it("exits 2 with one message naming the variable for invalid input", async () => {
        w = await world(1);
        const run = await rollout(w, { AVD_PAUSE_BETWEEN_BATCHES: "10 minutes" });
        assert.equal(run.code, 2);
        assert.deepEqual(run.stderr, ['Error: AVD_PAUSE_BETWEEN_BATCHES: "10 minutes" is not an ISO 8601 duration such as "PT5M", "PT1H30M" or "PT0S".']);
        const missing = await rollout(w, { AVD_VMSS_ID: undefined });
        assert.equal(missing.code, 2);
        assert.match(missing.stderr[0], /^Error: AVD_VMSS_ID is not set/);
        assert.equal(w.fake.requests.length, 0, "nothing reached Azure");
    });
});
