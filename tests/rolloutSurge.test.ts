import * as assert from "node:assert/strict";
import { main, type MainOptions, type RolloutResult } from "../tools/rollout";
import { prodRolloutEnv } from "./fixtures/prodRolloutEnv";
import { VirtualClock } from "../tools/azure/clock";
import { DRAINED_TAG, LOCK_LEASE_MS, LOCK_TAG } from "../tools/rollout/marker";
import type { Method } from "./fakeAzure/server";
import { ToolFailure } from "../tools/shared/tool";
import { ComputeModule } from "./fakeAzure/compute";
import { ComputeCapacityModule } from "./fakeAzure/computeCapacity";
import { DesktopVirtualizationModule, type DrainRecord, type UserSessionSeed } from "./fakeAzure/desktopVirtualization";
import { NetworkModule } from "./fakeAzure/network";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure } from "./fakeAzure/server";

const RG = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-prod`;
const VMSS = `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-prod`;
const HOST_POOL = `${RG}/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-prod`;
const DEFINITION = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365`;
const OLD = `${DEFINITION}/versions/1.1.0`;
const NEW = `${DEFINITION}/versions/1.2.0`;
const TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.surge-test-token";
const SUBNET = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-network/providers/Microsoft.Network/virtualNetworks/vnet-avd/subnets/snet-avd-prod`;

interface World {
    clock: VirtualClock;
    fake: FakeAzure;
    compute: ComputeModule;
    dv: DesktopVirtualizationModule;
    capacity: number;
}

interface Run {
    code: number;
    stdout: string[];
    stderr: string[];
    result?: RolloutResult;
}

async function world(capacity = 10): Promise<World> {
    const clock = new VirtualClock();
    const compute = new ComputeModule();
    const dv = new DesktopVirtualizationModule({ compute, sampleAccepting: true });
    // Room for the surge: the preflight reads the subnet and the region's vCPU quota before the first change.
    const network = new NetworkModule({ compute });
    const quota = new ComputeCapacityModule({ compute });
    const fake = await startFakeAzure({ clock, acceptToken: TOKEN }, [compute, dv, network, quota]);
    compute.addScaleSet({ id: VMSS, capacity, imageReferenceId: OLD, zones: ["1", "2", "3"], computerNamePrefix: "avdprd", upgradeMode: "Manual", vmSize: "Standard_D8s_v5", location: "westeurope" });
    network.addSubnet({ id: SUBNET, addressPrefix: "10.20.0.0/24", scaleSets: [{ id: VMSS, networkInterfaceName: "nic-avd-prod" }] });
    quota.trackScaleSet(VMSS, "westeurope", "Standard_D8s_v5");
    for (const usage of ["standardDSv5Family", "cores"]) quota.setQuota("westeurope", usage, { limit: 2000 });
    dv.addHostPool({ id: HOST_POOL, scaleSetId: VMSS, hostNameSuffix: ".contoso.local" });
    compute.setModelImage(VMSS, NEW);
    return { clock, fake, compute, dv, capacity };
}

function envFor(w: World, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    return prodRolloutEnv(
        { armUrl: w.fake.url, token: TOKEN, vmss: VMSS, hostPool: HOST_POOL, imageVersionId: NEW },
        {
            AVD_ROLLOUT_STRATEGY: "surge",
            AVD_CAPACITY: String(w.capacity),
            AVD_SUBNET_ID: SUBNET,
            AVD_VM_SIZE: "Standard_D8s_v5",
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

function onVersion(w: World, version: string): string[] {
    return w.compute
        .instances(VMSS)
        .filter((i) => i.imageReferenceId.endsWith(`/versions/${version}`))
        .map((i) => i.instanceId);
}

/** Fewest hosts accepting new sessions after any request the fake answered. */
function lowestAccepting(w: World): number {
    return Math.min(...w.dv.acceptingSamples.map((s) => s.accepting));
}

/** The end state every surge rollout must reach: configured capacity, every host new, in service, nothing left behind. */
function assertFinished(w: World, version = "1.2.0"): void {
    assert.equal(w.compute.capacity(VMSS), w.capacity, "sku.capacity is the configured capacity");
    const instances = w.compute.instances(VMSS);
    assert.equal(instances.length, w.capacity, "no instance is left over (none being deleted either)");
    assert.equal(onVersion(w, version).length, w.capacity, `every instance runs ${version}`);
    assert.ok(instances.every((i) => i.latestModelApplied && i.provisioningState === "Succeeded"));
    const hosts = w.dv.sessionHosts(HOST_POOL);
    assert.deepEqual(hosts.map((h) => h.instanceId).sort(), instances.map((i) => i.instanceId).sort(), "one session host per instance, no orphaned session host objects");
    assert.ok(hosts.every((h) => h.allowNewSession && h.status === "Available"), "every host takes users");
    assert.deepEqual(w.dv.sessionsLostToDeletion, [], "no host was deleted with a user on it");
    assert.deepEqual(w.dv.sessionsLostToReimage, []);
    const tags = Object.keys(w.compute.tags(VMSS)).map((n) => n.toLowerCase());
    assert.ok(!tags.includes(LOCK_TAG) && !tags.includes(DRAINED_TAG), "the rollout's tags are gone");
    assert.deepEqual(w.fake.violations, [], "no request came sooner than a Retry-After allowed");
}

describe("surge rollout (AVD_ROLLOUT_STRATEGY=surge)", function () {
    // Hour-long rollouts on the virtual clock still make a few thousand requests to the fake.
    this.timeout(120_000);
    let w: World;
    afterEach(async () => {
        await w?.fake.stop();
    });

    it("replaces 10 hosts without ever taking fewer than 10 users' hosts out of service, starting with one canary, and ends at capacity 10", async () => {
        w = await world();
        signIn(w, "3", [{ userPrincipalName: "ada@contoso.com", endsAfterPolls: 3 }]);
        signIn(w, "7", [{ userPrincipalName: "grace@contoso.com", state: "Disconnected", endsAfterPolls: 2 }]);
        const run = await rollout(w);

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.deepEqual(run.result, { imageVersion: "1.2.0", imageVersionId: NEW, instancesUpgraded: 10, instancesAlreadyCurrent: 0, batches: run.result?.batches, signedOutSessions: { active: 0, disconnected: 0 }, hostsLeftDrained: [] });
        assertFinished(w);
        assert.ok(w.dv.acceptingSamples.length > 100, "sampled throughout");
        assert.equal(lowestAccepting(w), 10, "never fewer than the configured capacity accepting new sessions");
        assert.deepEqual(w.compute.capacityChanges[0], { scaleSetId: VMSS, capacity: 11, previous: 10, time: w.compute.capacityChanges[0].time }, "the canary: one new host first");
        const canaryReady = w.dv.drainChanges[0].time;
        assert.ok(w.compute.capacityChanges.slice(1).every((c) => c.time >= canaryReady), "nothing else starts before the canary is healthy and an old host drains");
        assert.ok(Math.max(...w.compute.capacityChanges.map((c) => c.capacity)) <= 12, "at most the step (20% of 10) above the configured capacity");
        assert.deepEqual(w.compute.manualUpgrades, [], "nothing is reimaged");
        assert.equal(w.dv.sessionHostDeletions.length, 10);
        assert.ok(w.dv.sessionHostDeletions.every((d) => !d.force), "session hosts are removed without force");
        assert.deepEqual(w.dv.messages.map((m) => m.userPrincipalName), ["ada@contoso.com"], "the active user was warned once");
        assert.deepEqual(w.dv.logoffs, []);
        // Each old host is removed from the pool before its instance is deleted.
        for (const d of w.compute.deletions) {
            for (const id of d.instanceIds) {
                const name = `avdprd${Number(id).toString(36).padStart(6, "0")}.contoso.local`;
                const removed = w.dv.sessionHostDeletions.find((x) => x.sessionHostName === name);
                assert.ok(removed && removed.time <= d.time, `${name} left the host pool before its VM was deleted`);
            }
        }
    });

    it("paces by host: one user who stays signed in holds one slot while the other hosts are replaced", async () => {
        w = await world();
        // One user per host; on the first host drained (instance 0: zone 1, lowest id), about 200 polls (100 min)
        // in drain mode pass before its user signs out. The drain timeout is four hours.
        signIn(w, "0", [{ userPrincipalName: "late@contoso.com", endsAfterPolls: 400 }]);
        for (let i = 1; i < 10; i++) signIn(w, String(i), [{ endsAfterPolls: 2 }]);
        const run = await rollout(w, { AVD_DRAIN_TIMEOUT_MINUTES: "240", AVD_PRIORITIZE_UNHEALTHY: "false" });

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assertFinished(w);
        assert.equal(lowestAccepting(w), 10);
        const drained0 = w.dv.drainChanges.find((c) => c.sessionHostName.startsWith("avdprd000000") && !c.allowNewSession);
        const deleted0 = w.dv.sessionHostDeletions.find((d) => d.sessionHostName.startsWith("avdprd000000"));
        assert.ok(drained0 && deleted0);
        const replacedMeanwhile = w.dv.sessionHostDeletions.filter((d) => d.time > drained0.time && d.time < deleted0.time).length;
        assert.equal(replacedMeanwhile, 9, "every other host was replaced while the late user stayed");
    });

    it("watches the canary for the pause: new hosts ready meanwhile wait in drain mode, so only the canary takes users on the new image until the watch ends", async () => {
        w = await world();
        const run = await rollout(w); // prodRolloutEnv: AVD_PAUSE_BETWEEN_BATCHES PT10M

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assertFinished(w);
        assert.equal(lowestAccepting(w), 10, "old hosts keep serving throughout");
        const isNew = (name: string) => Number.parseInt(name.slice("avdprd".length, "avdprd".length + 6), 36) >= 10;
        const watchStart = (w.dv.drainChanges.find((c) => !isNew(c.sessionHostName) && !c.allowNewSession) as DrainRecord).time;
        const held = w.dv.drainChanges.filter((c) => isNew(c.sessionHostName) && !c.allowNewSession);
        assert.ok(held.length >= 1, "a new host became ready during the watch and was kept in drain mode");
        for (const h of held) {
            assert.ok(h.time < watchStart + 10 * 60_000, `${h.sessionHostName} was held during the watch`);
            const released = w.dv.drainChanges.find((c) => c.sessionHostName === h.sessionHostName && c.allowNewSession && c.time > h.time);
            assert.ok(released && released.time >= watchStart + 10 * 60_000, `${h.sessionHostName} took users only once the watch was over`);
        }
        assert.ok(
            w.compute.capacityChanges.some((c) => c.time > watchStart && c.time < watchStart + 10 * 60_000),
            "the next new hosts were provisioned during the watch, so the watch costs little time",
        );
    });

    it("a canary that turns unhealthy during its watch stops the rollout before any other new host takes users", async () => {
        w = await world();
        for (let i = 0; i < 10; i++) signIn(w, String(i), [{ endsAfterPolls: 40 }]);
        let broken = false;
        w.compute.afterRequest(() => {
            // The canary (instance 10) was judged ready the moment the first old host was drained: its agent fails from then on.
            if (!broken && w.dv.drainChanges.some((c) => !c.allowNewSession)) {
                broken = true;
                w.dv.scenario(HOST_POOL, "10", { statusAfterUpgrade: "Unavailable" });
            }
        });
        const run = await rollout(w);

        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.match(err, /Error: rollout of 1\.2\.0 stopped: 1 of \d new host\(s\) on 1\.2\.0 are not healthy and Available: avdprd00000a \(AVD status Unavailable\) turned unhealthy after being ready \(> maxUnhealthyUpgradedInstancePercent 20%\)/);
        assert.equal(w.compute.capacity(VMSS), 10, "back at the configured capacity");
        assert.equal(onVersion(w, "1.1.0").length, 10, "no old host was replaced");
        assert.ok(!w.compute.hasInstance(VMSS, "10"), "the broken canary was removed");
        assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession), "every old host takes users again");
        assert.ok(!w.dv.drainChanges.some((c) => c.allowNewSession && Number.parseInt(c.sessionHostName.slice(6, 12), 36) >= 10), "no held new host was ever released");
        // The broken canary stops accepting before the rollout sees it: one host short until its old partner is back in service.
        const dip = w.dv.acceptingSamples.filter((x) => x.accepting < 10);
        assert.ok(dip.every((x) => x.accepting === 9) && dip.length > 0, "one host short, not more");
        assert.ok(dip[dip.length - 1].time - dip[0].time <= 2 * 30_000 + 30_000, "for at most two polls and a heartbeat");
        assert.equal(w.dv.accepting(HOST_POOL), 10);
        assert.deepEqual(w.dv.sessionsLostToDeletion, []);
    });

    it("a new host that never becomes healthy stops the rollout: old hosts stay in service and the failed instance is deleted", async () => {
        w = await world();
        w.compute.nextInstances(VMSS, [{ healthAfterUpgrade: "unhealthy" }]);
        const run = await rollout(w, { AVD_HEALTH_TIMEOUT_MINUTES: "20" });

        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.match(err, /Error: rollout of 1\.2\.0 stopped: 1 of 1 new host\(s\) on 1\.2\.0 did not become healthy and Available \(> maxUnhealthyUpgradedInstancePercent 20%\)/);
        assert.match(err, /Old hosts stay in service/);
        assert.equal(w.compute.capacity(VMSS), 10, "back at the configured capacity");
        assert.deepEqual(onVersion(w, "1.1.0").length, 10, "every old host is still there");
        assert.ok(!w.compute.hasInstance(VMSS, "10"), "the failed new instance was deleted");
        assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession && h.status === "Available"), "every old host takes users");
        assert.equal(lowestAccepting(w), 10);
        assert.deepEqual(w.dv.sessionsLostToDeletion, []);
    });

    it("a new host whose provisioning fails stops the rollout the same way", async () => {
        w = await world();
        w.compute.nextInstances(VMSS, [{ provisioningFails: true }]);
        const run = await rollout(w);

        assert.equal(run.code, 1);
        assert.match(run.stderr.join("\n"), /provisioning failed/);
        assert.equal(w.compute.capacity(VMSS), 10);
        assert.equal(w.compute.instances(VMSS).length, 10);
        assert.equal(onVersion(w, "1.1.0").length, 10);
    });

    it("never deletes a host while it has a session: a user past the drain timeout keeps the old host, which returns to service", async () => {
        w = await world(4);
        signIn(w, "2", [{ userPrincipalName: "stays@contoso.com", endsAfterPolls: "never" }]);
        const run = await rollout(w, { AVD_MAX_BATCH_PERCENT: "50", AVD_DRAIN_TIMEOUT_MINUTES: "30" });

        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.match(err, /Error: rollout of 1\.2\.0 stopped: 1 user session\(s\) were still open on avdprd000002 after the drain timeout of 30 min; every other host was replaced\./);
        assert.equal(w.compute.capacity(VMSS), 4, "the extra new host without users was removed");
        assert.deepEqual(w.dv.sessionsLostToDeletion, []);
        assert.ok(w.compute.hasInstance(VMSS, "2"), "the host with the user is still there");
        assert.ok(w.dv.sessionHost(HOST_POOL, "2").allowNewSession, "and back in service");
        assert.equal(onVersion(w, "1.2.0").length, 3);
        assert.ok(lowestAccepting(w) >= 4);
    });

    it("rolls back by the same path: re-pinning the previous version replaces every host again without dropping capacity", async () => {
        w = await world(5);
        const forward = await rollout(w, { AVD_MAX_BATCH_PERCENT: "40" });
        assert.equal(forward.code, 0, forward.stderr.join("\n"));
        assertFinished(w, "1.2.0");
        signIn(w, "6", [{ userPrincipalName: "ada@contoso.com", endsAfterPolls: 2 }]);
        w.compute.setModelImage(VMSS, OLD);
        const back = await rollout(w, { AVD_MAX_BATCH_PERCENT: "40", AVD_IMAGE_VERSION_ID: OLD });
        assert.equal(back.code, 0, back.stderr.join("\n"));
        assertFinished(w, "1.1.0");
        assert.equal(back.result?.instancesUpgraded, 5);
        assert.equal(lowestAccepting(w), 5);
    });

    describe("survives a crash at every step boundary and mid-step", () => {
        const points: Array<[string, Method, RegExp, number]> = [
            ["right after the canary's capacity change", "PATCH", /virtualMachineScaleSets\/[^/]+$/, 0],
            ["right after a later capacity change", "PATCH", /virtualMachineScaleSets\/[^/]+$/, 2],
            ["right after an old host was drained", "PATCH", /\/sessionHosts\/[^/]+$/, 0],
            ["right after a later drain", "PATCH", /\/sessionHosts\/[^/]+$/, 2],
            ["right after a session host was removed, before its instance is deleted", "DELETE", /\/sessionHosts\/[^/]+$/, 1],
            ["right after Azure accepted an instance delete", "POST", /\/delete$/, 1],
            ["right after the marker listed a host to retire", "PATCH", /tags\/default$/, 2],
            ["while a new host is still provisioning", "GET", /\/virtualMachines$/, 12],
        ];
        for (const [when, method, path, skip] of points) {
            it(when, async () => {
                w = await world(5);
                signIn(w, "1", [{ endsAfterPolls: 4 }]);
                w.compute.crash.arm(method, path, skip);
                const first = await rollout(w, { AVD_MAX_BATCH_PERCENT: "40" });
                assert.equal(first.code, 1, "the first run died");
                assert.equal(w.compute.crash.crashedOn.length, 1);
                w.compute.crash.recover();
                w.clock.advance(LOCK_LEASE_MS);
                const second = await rollout(w, { AVD_MAX_BATCH_PERCENT: "40" });
                assert.equal(second.code, 0, second.stderr.join("\n"));
                assertFinished(w);
                assert.ok(lowestAccepting(w) >= 5, `never fewer than 5 hosts accepting (lowest ${lowestAccepting(w)})`);
            });
        }
    });

    it("on SIGTERM mid-step, puts draining old hosts back in service, and the next run uses the extra new hosts and ends at the configured capacity", async () => {
        w = await world(5);
        for (const id of ["0", "1", "2", "3", "4"]) signIn(w, id, [{ endsAfterPolls: "never" }]);
        const stop = new AbortController();
        const running = rollout(w, { AVD_MAX_BATCH_PERCENT: "40", AVD_DRAIN_TIMEOUT_MINUTES: "120" }, { signal: stop.signal });
        while (w.dv.messages.length === 0) await new Promise((resolve) => setImmediate(resolve));
        stop.abort("SIGTERM");
        const first = await running;
        assert.equal(first.code, 1);
        const err = first.stderr.join("\n");
        assert.match(err, /Error: rollout stopped by SIGTERM/);
        assert.match(err, /1 old host\(s\) that were draining are back in service/);
        assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession), "every host takes users");
        const extra = w.compute.capacity(VMSS) - 5;
        assert.ok(extra >= 1, "the new hosts stay for the next run");

        const createdBefore = w.compute.capacityChanges.length;
        // The next run signs the warned users out after their warning (at least 5 minutes).
        const second = await rollout(w, { AVD_MAX_BATCH_PERCENT: "40", AVD_DRAIN_TIMEOUT_MINUTES: "0", AVD_FORCE_LOGOFF: "true" });
        assert.equal(second.code, 0, second.stderr.join("\n"));
        assert.match(second.stderr.join("\n"), /instance\(s\) above the configured capacity are used for the next old hosts/);
        assert.ok(w.compute.capacityChanges.length > createdBefore);
        assert.equal(w.dv.logoffs.length, 5, "each user was signed out once, after a warning");
        assert.ok(w.dv.logoffs.every((l) => w.dv.messages.some((m) => m.sessionId === l.sessionId && m.seen && l.time - m.time >= 5 * 60_000)));
        assertFinished(w);
        assert.ok(lowestAccepting(w) >= 5);
    });

    it("a time box finishes the hosts in flight and pauses at the configured capacity", async () => {
        w = await world(10);
        const run = await rollout(w, { AVD_MAX_RUN_MINUTES: "10" });
        assert.equal(run.code, 1);
        assert.match(run.stderr.join("\n"), /rollout paused after its time box of 10 min/);
        assert.equal(w.compute.capacity(VMSS), 10);
        assert.equal(w.compute.instances(VMSS).length, 10);
        assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession && h.status === "Available"));
        const onNew = onVersion(w, "1.2.0").length;
        assert.ok(onNew >= 1 && onNew < 10, `part of the ring moved (${onNew})`);
        const next = await rollout(w);
        assert.equal(next.code, 0, next.stderr.join("\n"));
        assertFinished(w);
        assert.equal(lowestAccepting(w), 10);
    });
});

describe("surge rollout inputs", () => {
    it("needs the configured capacity: AVD_CAPACITY missing is an input error (exit 2) before anything touches Azure", async () => {
        const stderr: string[] = [];
        const code = await main(
            { AVD_VMSS_ID: VMSS, AVD_HOST_POOL_ID: HOST_POOL, AVD_IMAGE_VERSION_ID: NEW, AVD_MAX_BATCH_PERCENT: "20", AVD_MAX_UNHEALTHY_PERCENT: "20", AVD_MAX_UNHEALTHY_UPGRADED_PERCENT: "20", AVD_PAUSE_BETWEEN_BATCHES: "PT0S", AVD_DRAIN_TIMEOUT_MINUTES: "60", AVD_ROLLOUT_STRATEGY: "surge" },
            { stdout: () => undefined, stderr: (l) => stderr.push(l) },
        );
        assert.equal(code, 2);
        assert.match(stderr.join("\n"), /AVD_CAPACITY is not set: it must be a whole number from 1 to 1000/);
    });
});

describe("rollout hooks (tools/rollout/hooks.ts): before the first change, and before each drain", function () {
    this.timeout(120_000);
    let w: World;
    afterEach(async () => {
        await w?.fake.stop();
    });

    for (const strategy of ["surge", "reimage"] as const) {
        it(`${strategy}: a refusal before the first change stops the run with nothing changed`, async () => {
            w = await world(5);
            const seen: Array<{ strategy: string; surgeInstances: number; hosts: number }> = [];
            const run = await rollout(w, { AVD_ROLLOUT_STRATEGY: strategy }, {
                hooks: {
                    beforeFirstChange: async (c) => {
                        seen.push({ strategy: c.strategy, surgeInstances: c.surgeInstances, hosts: c.hosts.length });
                        throw new ToolFailure("preflight: the subnet has no free address for the surge");
                    },
                },
            });
            assert.equal(run.code, 1);
            assert.match(run.stderr.join("\n"), /Error: preflight: the subnet has no free address for the surge/);
            assert.deepEqual(seen, [{ strategy, surgeInstances: strategy === "surge" ? 1 : 0, hosts: 5 }]);
            assert.deepEqual(w.compute.capacityChanges, []);
            assert.deepEqual(w.compute.manualUpgrades, []);
            assert.deepEqual(w.dv.drainChanges, []);
        });

        it(`${strategy}: a drain refused until later waits with every host in service, then goes on`, async () => {
            w = await world(5);
            const opensAt = w.clock.now() + 2 * 3600_000;
            const run = await rollout(w, { AVD_ROLLOUT_STRATEGY: strategy, AVD_MAX_BATCH_PERCENT: "40" }, {
                hooks: { mayStartDraining: (now) => (now >= opensAt ? { allowed: true } : { allowed: false, reason: "outside the maintenance window", retryAt: opensAt }) },
            });
            assert.equal(run.code, 0, run.stderr.join("\n"));
            assert.match(run.stderr.join("\n"), /no host may start draining now \(outside the maintenance window\): waiting until/);
            assert.ok(w.dv.drainChanges.every((c) => c.time >= opensAt), "nothing drained before the window");
            assert.equal(onVersion(w, "1.2.0").length, 5);
            assert.equal(w.compute.capacity(VMSS), 5);
        });
    }

    it("surge: a drain refused for good stops cleanly at the configured capacity with every host in service", async () => {
        w = await world(5);
        let allowed = 1;
        const run = await rollout(w, { AVD_MAX_BATCH_PERCENT: "40" }, {
            hooks: { mayStartDraining: () => (allowed-- > 0 ? { allowed: true } : { allowed: false, reason: "the maintenance window has closed" }) },
        });
        assert.equal(run.code, 1);
        assert.match(run.stderr.join("\n"), /Error: rollout paused: no host may start draining now \(the maintenance window has closed\)/);
        assert.equal(w.compute.capacity(VMSS), 5);
        assert.equal(w.compute.instances(VMSS).length, 5);
        assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession && h.status === "Available"));
        assert.ok(lowestAccepting(w) >= 5);
    });
});
