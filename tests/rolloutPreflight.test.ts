// The surge preflight (tools/rollout/preflight.ts) against the fake's subnet, Compute usages and
// Resource SKUs: it counts free addresses (Azure's 5 reserved per range) and vCPU quota (family and
// regional), stops with the numbers and what to change, and makes no call at all for reimage.
import { strict as assert } from "node:assert";
import { ArmClient } from "../tools/azure/arm";
import { VirtualClock } from "../tools/azure/clock";
import { ARM_DEFAULT_SCOPE, StaticTokenProvider } from "../tools/azure/credentials";
import { parseResourceId } from "../tools/azure/ids";
import { ipv4PrefixSize, largestFittingPercent, preflight, subnetRoom, type PreflightRequest } from "../tools/rollout/preflight";
import { ToolFailure } from "../tools/shared/tool";
import { ComputeModule } from "./fakeAzure/compute";
import { ComputeCapacityModule } from "./fakeAzure/computeCapacity";
import { NetworkModule } from "./fakeAzure/network";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure } from "./fakeAzure/server";

const SUB = FAKE_SUBSCRIPTION_ID;
const VMSS = `/subscriptions/${SUB}/resourceGroups/rg-avd-prod/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-prod`;
const SUBNET = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-avd/subnets/snet-avd-prod`;

interface World {
    fake: FakeAzure;
    arm: ArmClient;
    capacity: ComputeCapacityModule;
    network: NetworkModule;
}

async function world(o: { hosts: number; prefix: string; others?: number; familyLimit: number; regionalLimit: number; usedElsewhere?: number; sizeRestricted?: boolean }): Promise<World> {
    const clock = new VirtualClock();
    const compute = new ComputeModule();
    const network = new NetworkModule({ compute });
    const capacity = new ComputeCapacityModule({
        compute,
        sizes: [{ name: "Standard_D4s_v5", family: "standardDSv5Family", familyDisplayName: "Standard DSv5 Family vCPUs", vCPUs: 4, restrictedIn: o.sizeRestricted ? ["westeurope"] : [] }],
    });
    const fake = await startFakeAzure({ clock }, [compute, network, capacity]);
    compute.addScaleSet({ id: VMSS, capacity: o.hosts, imageReferenceId: "/x", vmSize: "Standard_D4s_v5", location: "westeurope" });
    network.addSubnet({
        id: SUBNET,
        addressPrefix: o.prefix,
        otherIpConfigurations: Array.from({ length: o.others ?? 0 }, (_, i) => `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkInterfaces/nic-pe-${i}/ipConfigurations/ipconfig1`),
        scaleSets: [{ id: VMSS, networkInterfaceName: "nic-avd-prod" }],
    });
    capacity.trackScaleSet(VMSS, "westeurope", "Standard_D4s_v5");
    capacity.setQuota("westeurope", "standardDSv5Family", { limit: o.familyLimit, usedElsewhere: o.usedElsewhere ?? 0 });
    capacity.setQuota("westeurope", "cores", { limit: o.regionalLimit, usedElsewhere: o.usedElsewhere ?? 0 });
    capacity.setQuota("westeurope", "virtualMachines", { limit: 25000 });
    const arm = new ArmClient({ endpoint: fake.url, clock, tokenProvider: new StaticTokenProvider("t", ARM_DEFAULT_SCOPE) });
    return { fake, arm, capacity, network };
}

const request = (over: Partial<PreflightRequest> = {}): PreflightRequest => ({
    strategy: "surge",
    surgeInstances: 10,
    capacity: 100,
    maxBatchInstancePercent: 10,
    location: "westeurope",
    subnet: parseResourceId(SUBNET),
    vmSize: "Standard_D4s_v5",
    ...over,
});

async function failure(p: Promise<unknown>): Promise<ToolFailure> {
    try {
        await p;
    } catch (e) {
        if (e instanceof ToolFailure) return e;
        throw e;
    }
    assert.fail("the preflight passed");
}

describe("surge preflight (tools/rollout/preflight.ts)", () => {
    let w: World | undefined;
    afterEach(async () => {
        await w?.fake.stop();
        w = undefined;
    });

    it("passes when the subnet and both quotas have room, with three reads and no write", async () => {
        // /24: 256 - 5 reserved - 100 hosts - 3 others = 148 free; 100 hosts x 4 = 400 vCPUs used.
        w = await world({ hosts: 100, prefix: "10.1.0.0/24", others: 3, familyLimit: 500, regionalLimit: 600 });
        const r = await preflight(w.arm, request());
        assert.equal(r.findings?.subnet.free, 148);
        assert.deepEqual([r.findings?.family.free, r.findings?.regional.free], [100, 200]);
        assert.equal(r.fits, 25);
        assert.match(r.summary, /room for 10 new host\(s\) of Standard_D4s_v5: 148 free address\(es\) in the subnet, 100 free Standard DSv5 Family vCPUs and 200 free Total Regional vCPUs \(the surge needs 40\)/);
        assert.deepEqual(
            w.fake.requests.map((x) => `${x.method} ${x.route}`),
            [
                "GET /subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{subnetName}",
                "GET /subscriptions/{subscriptionId}/providers/Microsoft.Compute/skus",
                "GET /subscriptions/{subscriptionId}/providers/Microsoft.Compute/locations/{location}/usages",
            ],
        );
        assert.deepEqual(w.fake.violations, []);
    });

    it("stops on a full subnet with the numbers and the three ways out", async () => {
        // /25: 128 - 5 - 100 hosts - 17 others = 6 free; the step needs 10.
        w = await world({ hosts: 100, prefix: "10.1.0.0/25", others: 17, familyLimit: 1000, regionalLimit: 1000 });
        const e = await failure(preflight(w.arm, request()));
        assert.match(e.message, /^preflight: the surge needs room for 10 new host\(s\) of Standard_D4s_v5 \(4 vCPUs each\), but Azure has 10 address\(es\) in the subnet, 6 free\. Nothing was changed/);
        const details = e.details.join("\n");
        assert.match(details, /subnet .*snet-avd-prod \(10\.1\.0\.0\/25\): 128 addresses, 5 reserved by Azure, 117 in use, 6 free; the surge needs 10\./);
        assert.match(details, /a smaller step: at most 6 new host\(s\) fit now; sessionHosts\.rollingUpgrade\.maxBatchInstancePercent: 6 \(steps of 6 at capacity 100; now 10%\)/);
        assert.match(details, /more addresses: free 4 more in .*snet-avd-prod, or widen its prefix/);
        assert.match(details, /sessionHosts\.rollout\.strategy: reimage/);
        assert.doesNotMatch(details, /more quota/);
    });

    it("stops over the family quota and says how far to raise it", async () => {
        // 100 hosts x 4 = 400 of 420 family vCPUs: 20 free = 5 hosts; 10 hosts need 40.
        w = await world({ hosts: 100, prefix: "10.1.0.0/22", familyLimit: 420, regionalLimit: 2000 });
        const e = await failure(preflight(w.arm, request()));
        assert.match(e.message, /but Azure has 40 vCPUs of Standard DSv5 Family vCPUs, 20 free\./);
        const details = e.details.join("\n");
        assert.match(details, /Standard DSv5 Family vCPUs in westeurope: 400 of 420 in use, 20 free; the surge needs 40\./);
        assert.match(details, /more quota: raise Standard DSv5 Family vCPUs \(standardDSv5Family\) in westeurope from 420 to at least 440/);
        assert.match(details, /maxBatchInstancePercent: 5 \(steps of 5 at capacity 100/);
    });

    it("stops over Total Regional vCPUs even when the family has room", async () => {
        w = await world({ hosts: 100, prefix: "10.1.0.0/22", familyLimit: 2000, regionalLimit: 410, usedElsewhere: 8 });
        const e = await failure(preflight(w.arm, request()));
        assert.match(e.message, /40 vCPUs of Total Regional vCPUs, 2 free/);
        assert.match(e.details.join("\n"), /a smaller step will not do: not one new host fits now/);
    });

    it("stops when the subscription may not deploy the size in the region", async () => {
        w = await world({ hosts: 10, prefix: "10.1.0.0/24", familyLimit: 1000, regionalLimit: 1000, sizeRestricted: true });
        const e = await failure(preflight(w.arm, request()));
        assert.match(e.message, /the subscription may not deploy Standard_D4s_v5 in westeurope \(NotAvailableForSubscription\)/);
    });

    it("reimage needs no room and makes no call; a surge whose instances exist has nothing to check", async () => {
        w = await world({ hosts: 10, prefix: "10.1.0.0/28", familyLimit: 0, regionalLimit: 0 });
        assert.match((await preflight(w.arm, request({ strategy: "reimage" }))).summary, /reimage updates hosts in place/);
        assert.match((await preflight(w.arm, request({ surgeInstances: 0 }))).summary, /no new host to add/);
        assert.equal(w.fake.requests.length, 0);
    });

    it("the fake's subnet takes an address for every instance the scale set adds", async () => {
        w = await world({ hosts: 3, prefix: "10.1.0.0/29", familyLimit: 100, regionalLimit: 100 });
        assert.equal(w.network.ipConfigurations(SUBNET).length, 3);
        assert.deepEqual(w.capacity.usage("westeurope", "cores"), { currentValue: 12, limit: 100 });
    });

    it("counts addresses per IPv4 range, leaving IPv6 ranges out", () => {
        assert.equal(ipv4PrefixSize("10.0.0.0/24"), 256);
        assert.equal(ipv4PrefixSize("10.0.0.0/29"), 8);
        assert.equal(ipv4PrefixSize("ace:cab:deca::/64"), undefined);
        const room = subnetRoom({ properties: { addressPrefixes: ["10.0.0.0/28", "10.0.1.0/28", "ace:cab:deca::/64"], ipConfigurations: [{ id: "a" }, { id: "b" }] } }, "s");
        assert.deepEqual(room, { id: "s", prefixes: ["10.0.0.0/28", "10.0.1.0/28"], addresses: 32, reserved: 10, used: 2, free: 20 });
    });

    it("the advised step percentage is the largest whose step fits", () => {
        assert.equal(largestFittingPercent(100, 6), 6);
        assert.equal(largestFittingPercent(60, 6), 11);
        assert.equal(largestFittingPercent(1000, 30), undefined, "5% of 1000 is 50 > 30: below the smallest step percentage");
    });
});
