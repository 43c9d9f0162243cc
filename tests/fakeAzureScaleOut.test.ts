// The fake Azure's scale-out and scale-in answer as Azure documents (Compute 2024-11-01,
// DesktopVirtualization 2024-04-03) and refuse what Azure refuses.
import * as assert from "node:assert/strict";
import { ArmClient, ArmError } from "../tools/azure/arm";
import { VirtualClock } from "../tools/azure/clock";
import { ARM_DEFAULT_SCOPE, StaticTokenProvider } from "../tools/azure/credentials";
import { ComputeModule } from "./fakeAzure/compute";
import { DesktopVirtualizationModule } from "./fakeAzure/desktopVirtualization";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure } from "./fakeAzure/server";

const RG = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-prod`;
const VMSS = `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-prod`;
const HOST_POOL = `${RG}/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-prod`;
const IMAGE = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images/providers/Microsoft.Compute/galleries/g/images/d/versions/1.2.0`;
const COMPUTE = { apiVersion: "2024-11-01" };
const AVD = { apiVersion: "2024-04-03" };

describe("fake Azure: scale-out, instance delete and session host delete", () => {
    let fake: FakeAzure;
    let clock: VirtualClock;
    let compute: ComputeModule;
    let dv: DesktopVirtualizationModule;
    let arm: ArmClient;
    beforeEach(async () => {
        clock = new VirtualClock();
        compute = new ComputeModule({ provisionSeconds: 300, deleteSeconds: 120 });
        dv = new DesktopVirtualizationModule({ compute });
        fake = await startFakeAzure({ clock }, [compute, dv]);
        compute.addScaleSet({ id: VMSS, capacity: 2, imageReferenceId: IMAGE, zones: ["1", "2"] });
        dv.addHostPool({ id: HOST_POOL, scaleSetId: VMSS });
        arm = new ArmClient({ endpoint: fake.url, clock, tokenProvider: new StaticTokenProvider("t", ARM_DEFAULT_SCOPE), retry: { maxAttempts: 1 } });
    });
    afterEach(async () => {
        await fake.stop();
    });

    it("a capacity PATCH is a long-running update that creates instances on the model, which register in the host pool after they run", async () => {
        const res = await arm.request("PATCH", VMSS, { ...COMPUTE, body: { sku: { capacity: 3 } } });
        assert.equal(res.status, 200);
        assert.ok(res.headers.get("azure-asyncoperation"), "Azure-AsyncOperation to follow");
        assert.equal((res.body as { properties: { provisioningState: string } }).properties.provisioningState, "Updating");
        assert.equal((res.body as { sku: { capacity: number } }).sku.capacity, 3);
        const created = compute.instance(VMSS, "2");
        assert.equal(created.provisioningState, "Creating");
        assert.equal(created.latestModelApplied, false, "not on the latest model until it runs");
        assert.equal(dv.isRegistered(HOST_POOL, "2"), false);
        clock.advance(300_000);
        assert.equal(compute.instance(VMSS, "2").provisioningState, "Succeeded");
        assert.equal(compute.instance(VMSS, "2").imageReferenceId, IMAGE);
        assert.equal(dv.isRegistered(HOST_POOL, "2"), false, "the agent registers after the VM runs");
        clock.advance(120_000);
        assert.equal(dv.isRegistered(HOST_POOL, "2"), true);
        assert.equal(dv.sessionHost(HOST_POOL, "2").allowNewSession, true);
        await assert.rejects(arm.request("PATCH", VMSS, { ...COMPUTE, body: { sku: { capacity: 1001 } } }), (e: unknown) => e instanceof ArmError && e.status === 400);
    });

    it("DeleteInstances needs instanceIds, answers 202 with both status URLs, and lowers the capacity at once", async () => {
        await assert.rejects(arm.request("POST", `${VMSS}/delete`, { ...COMPUTE, body: {} }), (e: unknown) => e instanceof ArmError && e.status === 400 && /instanceIds/.test(e.armMessage));
        await assert.rejects(arm.request("POST", `${VMSS}/delete`, { ...COMPUTE, body: { instanceIds: ["7"] } }), (e: unknown) => e instanceof ArmError && e.status === 400);
        const res = await arm.request("POST", `${VMSS}/delete`, { ...COMPUTE, body: { instanceIds: ["1"] } });
        assert.equal(res.status, 202);
        assert.ok(res.headers.get("azure-asyncoperation") && res.headers.get("location"));
        assert.equal(compute.capacity(VMSS), 1);
        assert.equal(compute.instance(VMSS, "1").provisioningState, "Deleting");
        clock.advance(120_000);
        assert.deepEqual(compute.instances(VMSS).map((i) => i.instanceId), ["0"], "gone once Azure has deleted it");
    });

    it("SessionHosts_Delete refuses a host with user sessions unless force=true, and answers 204 for a host that does not exist", async () => {
        dv.addUserSessions(HOST_POOL, "0", [{ userPrincipalName: "ada@contoso.com" }]);
        const name = dv.sessionHost(HOST_POOL, "0").name;
        const path = `${HOST_POOL}/sessionHosts/${name}`;
        await assert.rejects(arm.request("DELETE", path, AVD), (e: unknown) => e instanceof ArmError && e.status === 400);
        assert.equal(dv.isRegistered(HOST_POOL, "0"), true);
        const forced = await arm.request("DELETE", path, { ...AVD, query: { force: true } });
        assert.equal(forced.status, 200);
        assert.deepEqual(dv.sessionsLostToDeletion.map((s) => [s.userPrincipalName, s.by]), [["ada@contoso.com", "sessionHost"]]);
        const again = await arm.request("DELETE", path, AVD);
        assert.equal(again.status, 204);
        const empty = dv.sessionHost(HOST_POOL, "1").name;
        assert.equal((await arm.request("DELETE", `${HOST_POOL}/sessionHosts/${empty}`, AVD)).status, 200);
    });
});
