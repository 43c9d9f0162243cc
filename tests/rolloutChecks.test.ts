// The checks a real rollout run makes (tools/rollout/checks.ts through the runners' hooks), driven
// through tools/rollout.ts main() against the fake on the virtual clock: the surge preflight stops an
// over-quota or full-subnet rollout before it changes anything, and maintenance windows are honoured
// by both strategies (drain inside, wait for a window that opens soon, stop cleanly otherwise).
import * as assert from "node:assert/strict";
import { prodRolloutEnv } from "./fixtures/prodRolloutEnv";
import { main, type RolloutResult } from "../tools/rollout";
import { VirtualClock } from "../tools/azure/clock";
import { ComputeModule } from "./fakeAzure/compute";
import { ComputeCapacityModule } from "./fakeAzure/computeCapacity";
import { DesktopVirtualizationModule } from "./fakeAzure/desktopVirtualization";
import { NetworkModule } from "./fakeAzure/network";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure } from "./fakeAzure/server";

const RG = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-prod`;
const VMSS = `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-prod`;
const HOST_POOL = `${RG}/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-prod`;
const DEFINITION = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365`;
const OLD = `${DEFINITION}/versions/1.1.0`;
const NEW = `${DEFINITION}/versions/1.2.0`;
const SUBNET = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-network/providers/Microsoft.Network/virtualNetworks/vnet-avd/subnets/snet-avd-prod`;
const TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.checks-test-token";
// The virtual clock starts on Monday 2026-01-12 08:00 UTC (09:00 in Berlin).
const START = Date.UTC(2026, 0, 12, 8, 0, 0);
const MIN = 60_000;

interface World {
    clock: VirtualClock;
    fake: FakeAzure;
    compute: ComputeModule;
    dv: DesktopVirtualizationModule;
    network: NetworkModule;
    quota: ComputeCapacityModule;
}

interface Room {
    /** Subnet prefix; the ring's instances take one address each. */
    prefix?: string;
    otherAddresses?: number;
    familyLimit?: number;
    regionalLimit?: number;
}

async function world(capacity: number, room: Room = {}): Promise<World> {
    const clock = new VirtualClock(START);
    const compute = new ComputeModule();
    const dv = new DesktopVirtualizationModule({ compute });
    const network = new NetworkModule({ compute });
    const quota = new ComputeCapacityModule({ compute });
    const fake = await startFakeAzure({ clock, acceptToken: TOKEN }, [compute, dv, network, quota]);
    compute.addScaleSet({ id: VMSS, capacity, imageReferenceId: OLD, zones: ["1", "2", "3"], computerNamePrefix: "avdprd", upgradeMode: "Manual", vmSize: "Standard_D8s_v5", location: "westeurope" });
    dv.addHostPool({ id: HOST_POOL, scaleSetId: VMSS, hostNameSuffix: ".contoso.local" });
    network.addSubnet({
        id: SUBNET,
        addressPrefix: room.prefix ?? "10.20.0.0/24",
        otherIpConfigurations: Array.from({ length: room.otherAddresses ?? 0 }, (_, i) => `${RG}/providers/Microsoft.Network/networkInterfaces/nic-other-${i}/ipConfigurations/ipconfig1`),
        scaleSets: [{ id: VMSS, networkInterfaceName: "nic-avd-prod" }],
    });
    quota.trackScaleSet(VMSS, "westeurope", "Standard_D8s_v5");
    quota.setQuota("westeurope", "standardDSv5Family", { limit: room.familyLimit ?? 1000 });
    quota.setQuota("westeurope", "cores", { limit: room.regionalLimit ?? 1000 });
    compute.setModelImage(VMSS, NEW);
    return { clock, fake, compute, dv, network, quota };
}

function envFor(capacity: number, w: World, extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
    return prodRolloutEnv(
        { armUrl: w.fake.url, token: TOKEN, vmss: VMSS, hostPool: HOST_POOL, imageVersionId: NEW },
        {
            AVD_PAUSE_BETWEEN_BATCHES: "PT5M",
            AVD_CAPACITY: String(capacity),
            AVD_SUBNET_ID: SUBNET,
            AVD_VM_SIZE: "Standard_D8s_v5",
            AVD_DRAIN_MESSAGE_TITLE: undefined,
            ...extra,
        },
    );
}

async function rollout(w: World, capacity: number, extra: Record<string, string | undefined>) {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await main(envFor(capacity, w, extra), { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { clock: w.clock, owner: "tester@ci" });
    const last = stdout[stdout.length - 1];
    return { code, stderr, err: stderr.join("\n"), result: code === 0 && last ? (JSON.parse(last) as RolloutResult) : undefined };
}

/** Writes other than the rollout's own lock and marker tags: what would change the ring. */
function ringWrites(w: World): string[] {
    return w.fake.requests.filter((r) => r.method !== "GET" && !/\/providers\/Microsoft\.Resources\/tags\/default$/i.test(r.path)).map((r) => `${r.method} ${r.path}`);
}

function firstDrainAt(w: World): number | undefined {
    return w.dv.drainChanges.find((c) => !c.allowNewSession)?.time;
}

const window = (w: Record<string, unknown>) => JSON.stringify({ timeZone: "Europe/Berlin", waitMinutes: 0, ...w });

describe("rollout checks: preflight and maintenance windows (tools/rollout/checks.ts)", () => {
    let w: World | undefined;
    afterEach(async () => {
        await w?.fake.stop();
        w = undefined;
    });

    describe("surge preflight", () => {
        it("an over-quota surge stops before any change: no host drained, added or removed", async () => {
            // 10 hosts x 8 vCPUs = 80 of 90 family vCPUs; a step of 2 new hosts needs 16.
            w = await world(10, { familyLimit: 90 });
            const run = await rollout(w, 10, { AVD_ROLLOUT_STRATEGY: "surge" });
            assert.equal(run.code, 1);
            assert.match(run.err, /Error: preflight: the surge needs room for 2 new host\(s\) of Standard_D8s_v5 \(8 vCPUs each\), but Azure has 16 vCPUs of Standard DSv5 Family vCPUs, 10 free\. Nothing was changed/);
            assert.match(run.err, /more quota: raise Standard DSv5 Family vCPUs \(standardDSv5Family\) in westeurope from 90 to at least 96/);
            assert.match(run.err, /sessionHosts\.rollout\.strategy: reimage/);
            assert.deepEqual(ringWrites(w), [], "the request log holds no write to the ring");
            assert.equal(w.compute.instances(VMSS).length, 10);
            assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession));
            assert.deepEqual(w.fake.violations, []);
        });

        it("a surge into a full subnet stops before any change", async () => {
            // /27: 32 - 5 reserved - 10 hosts - 16 others = 1 free; the step needs 2.
            w = await world(10, { prefix: "10.20.0.0/27", otherAddresses: 16 });
            const run = await rollout(w, 10, { AVD_ROLLOUT_STRATEGY: "surge" });
            assert.equal(run.code, 1);
            assert.match(run.err, /Error: preflight: the surge needs room for 2 new host\(s\) of Standard_D8s_v5 \(8 vCPUs each\), but Azure has 2 address\(es\) in the subnet, 1 free\./);
            assert.match(run.err, /32 addresses, 5 reserved by Azure, 26 in use, 1 free; the surge needs 2\./);
            assert.match(run.err, /a smaller step: at most 1 new host\(s\) fit now; sessionHosts\.rollingUpgrade\.maxBatchInstancePercent: 19 \(steps of 1 at capacity 10; now 20%\)/);
            assert.deepEqual(ringWrites(w), []);
        });

        it("with room, the surge logs what it found and runs to the end", async () => {
            w = await world(5);
            const run = await rollout(w, 5, { AVD_ROLLOUT_STRATEGY: "surge" });
            assert.equal(run.code, 0, run.err);
            assert.match(run.err, /preflight: room for 1 new host\(s\) of Standard_D8s_v5: 246 free address\(es\) in the subnet, 960 free Standard DSv5 Family vCPUs and 960 free Total Regional vCPUs \(the surge needs 8\)/);
            assert.equal(w.compute.capacity(VMSS), 5);
        });

        it("reimage needs no room: a full subnet and no quota do not stop it, and it makes no network or quota call", async () => {
            w = await world(3, { prefix: "10.20.0.0/29", familyLimit: 24, regionalLimit: 24 });
            const run = await rollout(w, 3, { AVD_ROLLOUT_STRATEGY: "reimage" });
            assert.equal(run.code, 0, run.err);
            assert.match(run.err, /preflight: strategy reimage updates hosts in place/);
            assert.deepEqual(w.fake.requests.filter((r) => /Microsoft\.Network|\/usages$|Microsoft\.Compute\/skus$/.test(r.path)), []);
        });
    });

    describe("maintenance windows", () => {
        it("inside the window the rollout drains at once", async () => {
            w = await world(3);
            const run = await rollout(w, 3, { AVD_ROLLOUT_WINDOW: window({ days: ["Mon"], start: "09:00", end: "17:00" }) });
            assert.equal(run.code, 0, run.err);
            assert.ok((firstDrainAt(w) as number) < START + MIN);
        });

        it("reimage: waits for a window that opens within waitMinutes, saying so every 5 minutes, then drains", async () => {
            w = await world(3);
            // 10:00 Berlin = 09:00 UTC, an hour after the start.
            const run = await rollout(w, 3, { AVD_ROLLOUT_WINDOW: window({ days: ["Mon"], start: "10:00", end: "18:00", waitMinutes: 90 }) });
            assert.equal(run.code, 0, run.err);
            const drain = firstDrainAt(w) as number;
            assert.ok(drain >= START + 60 * MIN && drain < START + 62 * MIN, `first drain at ${new Date(drain).toISOString()}`);
            assert.match(run.err, /no host may start draining now \(outside the maintenance window Mon 10:00-18:00 Europe\/Berlin; it opens Mon 2026-01-12 10:00 Europe\/Berlin \(09:00 UTC\)\): waiting until 2026-01-12T09:00:00\.000Z with every host in service/);
            const waits = run.stderr.filter((l) => /waiting to drain again \(outside the maintenance window/.test(l));
            assert.ok(waits.length >= 10, `a progress line every 5 minutes of the hour (${waits.length})`);
        });

        it("surge: waits for the window too, and only drains inside it", async () => {
            w = await world(4);
            const run = await rollout(w, 4, { AVD_ROLLOUT_STRATEGY: "surge", AVD_ROLLOUT_WINDOW: window({ days: ["Mon"], start: "09:30", end: "18:00", waitMinutes: 60 }) });
            assert.equal(run.code, 0, run.err);
            assert.ok((firstDrainAt(w) as number) >= START + 30 * MIN);
            assert.match(run.err, /waiting until 2026-01-12T08:30:00\.000Z with every host in service/);
        });

        it("outside a window that opens later than waitMinutes: stops cleanly, every host in service, and says when to run pulumi up", async () => {
            w = await world(3);
            const run = await rollout(w, 3, { AVD_ROLLOUT_WINDOW: window({ days: ["Sat", "Sun"], start: "22:00", end: "05:00", waitMinutes: 120 }) });
            assert.equal(run.code, 1);
            assert.match(
                run.err,
                /Error: rollout paused: no host may start draining now \(outside the maintenance window Sat, Sun 22:00-05:00 Europe\/Berlin; it next opens Sat 2026-01-17 22:00 Europe\/Berlin \(21:00 UTC\), in 5 d 13 h \(that is more than waitMinutes \(120 min\) away\): run `pulumi up` again then\): 0 of 3 hosts on 1\.2\.0; run `pulumi up` again when it may\./,
            );
            assert.deepEqual(w.dv.drainChanges, []);
            assert.deepEqual(ringWrites(w), []);
            assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession && h.status === "Available"));
        });

        it("surge outside the window stops with the capacity as configured", async () => {
            w = await world(4);
            const run = await rollout(w, 4, { AVD_ROLLOUT_STRATEGY: "surge", AVD_ROLLOUT_WINDOW: window({ days: ["Sat"], start: "22:00", end: "05:00" }) });
            assert.equal(run.code, 1);
            assert.match(run.err, /Error: rollout paused: no host may start draining now \(outside the maintenance window Sat 22:00-05:00 Europe\/Berlin; it next opens Sat 2026-01-17 22:00 Europe\/Berlin \(21:00 UTC\).*\(sessionHosts\.rollout\.window\.waitMinutes is 0\)/);
            assert.equal(w.compute.instances(VMSS).length, 4);
            assert.deepEqual(w.dv.drainChanges, []);
        });

        it("a window that closes mid-rollout: the batch in flight finishes, no new batch starts, every host is back in service", async () => {
            w = await world(10);
            const run = await rollout(w, 10, { AVD_ROLLOUT_WINDOW: window({ days: ["Mon"], start: "09:00", end: "09:20" }) });
            assert.equal(run.code, 1);
            assert.match(run.err, /Error: rollout paused: no host may start draining now \(outside the maintenance window Mon 09:00-09:20 Europe\/Berlin; it next opens Mon 2026-01-19 09:00 Europe\/Berlin/);
            const drains = w.dv.drainChanges.filter((c) => !c.allowNewSession);
            assert.ok(drains.length > 0 && drains.length < 10, "some hosts were done, not all");
            assert.ok(drains.every((c) => c.time < START + 20 * MIN), "no host started draining after the window closed");
            assert.ok(w.dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession), "nothing left in drain mode");
        });

        it("stops rather than wait past the run's time box", async () => {
            w = await world(3);
            const run = await rollout(w, 3, { AVD_MAX_RUN_MINUTES: "30", AVD_ROLLOUT_WINDOW: window({ days: ["Mon"], start: "10:00", end: "18:00", waitMinutes: 90 }) });
            assert.equal(run.code, 1);
            assert.match(run.err, /that is after this run's time box \(sessionHosts\.rollout\.maxRunMinutes\)/);
        });

        it("refuses a malformed AVD_ROLLOUT_WINDOW before touching Azure (exit 2)", async () => {
            w = await world(3);
            const run = await rollout(w, 3, { AVD_ROLLOUT_WINDOW: window({ days: ["Mon"], start: "10:00", end: "18:00", timeZone: "Central European Time" }) });
            assert.equal(run.code, 2);
            assert.match(run.err, /AVD_ROLLOUT_WINDOW: timeZone must be an IANA time zone/);
            assert.deepEqual(w.fake.requests, []);
        });
    });
});
