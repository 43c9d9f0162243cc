import * as assert from "node:assert/strict";
import { main, type MainOptions, type RolloutResult } from "../tools/rollout";
import { VirtualClock } from "../tools/azure/clock";
import { ComputeModule } from "./fakeAzure/compute";
import { ComputeCapacityModule } from "./fakeAzure/computeCapacity";
import { DesktopVirtualizationModule, type UserSessionSeed } from "./fakeAzure/desktopVirtualization";
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
    const dv = new DesktopVirtualizationModule({ compute });
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
    return {
        AZURE_RESOURCE_MANAGER_ENDPOINT: w.fake.url,
        AVD_ARM_ACCESS_TOKEN: TOKEN,
        AVD_VMSS_ID: VMSS,
        AVD_HOST_POOL_ID: HOST_POOL,
        AVD_IMAGE_VERSION_ID: NEW,
        AVD_MAX_BATCH_PERCENT: "20",
        AVD_MAX_UNHEALTHY_PERCENT: "20",
        AVD_MAX_UNHEALTHY_UPGRADED_PERCENT: "20",
        AVD_PAUSE_BETWEEN_BATCHES: "PT10M",
        AVD_PRIORITIZE_UNHEALTHY: "true",
        AVD_DRAIN_TIMEOUT_MINUTES: "60",
        AVD_DRAIN_MESSAGE_TITLE: "Session host maintenance",
        AVD_DRAIN_MESSAGE_BODY: "This desktop is being updated. Please save your work and sign out.",
        AVD_FORCE_LOGOFF: "false",
        AVD_POLL_SECONDS: "30",
        AVD_ROLLOUT_STRATEGY: "surge",
        AVD_CAPACITY: String(w.capacity),
        AVD_SUBNET_ID: SUBNET,
        AVD_VM_SIZE: "Standard_D8s_v5",
        ...extra,
    };
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

describe("surge rollout (AVD_ROLLOUT_STRATEGY=surge)", () => {
    let w: World;
    afterEach(async () => {
        await w?.fake.stop();
    });

    it("smoke", async () => {
        w = await world();
        signIn(w, "3", [{ endsAfterPolls: 3 }]);
        const run = await rollout(w);
        console.log(run.stderr.join("\n"));
        assert.equal(run.code, 0);
        console.log(Math.min(...w.dv.acceptingSamples.map((s) => s.accepting)), w.compute.capacity(VMSS), w.fake.violations);
    });
});
