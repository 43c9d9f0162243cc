// The break-glass pool of a fleet runs a marketplace image (AVD_MARKETPLACE_IMAGE) instead of a
// gallery version: the rollout moves it and the health gate validates it against the fake Compute,
// which serves marketplace instances as Azure does (publisher/offer/sku/version plus exactVersion).
import * as assert from "node:assert/strict";
import { main as gateMain, type GateResult } from "../tools/healthGate";
import { main as rolloutMain, type RolloutResult } from "../tools/rollout";
import { VirtualClock } from "../tools/azure/clock";
import { readGateInputs } from "../tools/rollout/env";
import type { MockResourceArgs } from "@pulumi/pulumi/runtime/mocks";
import { simulatedCommandStdout } from "../preview/commands";
import { formatMarketplaceImage, parseMarketplaceImage } from "../src/tools/environment";
import { ComputeModule, type ImageSeed, type MarketplaceImageSeed, type UpgradeMode } from "./fakeAzure/compute";
import { DesktopVirtualizationModule } from "./fakeAzure/desktopVirtualization";
import { RunCommandModule, type RunCommandInput } from "./fakeAzure/runCommand";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure } from "./fakeAzure/server";

const RG = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-prod`;
const VMSS = `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-prod-breakglass`;
const HOST_POOL = `${RG}/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-prod-breakglass`;
const GALLERY_VERSION = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365/versions/1.2.0`;
const TOKEN = "marketplace-pool-test-token";
const IMAGE = { publisher: "MicrosoftWindowsDesktop", offer: "office-365", sku: "win11-24h2-avd-m365" };
const OLD = "26100.2314.241107";
const NEW = "26100.2605.241207";
const at = (version: string): MarketplaceImageSeed => ({ ...IMAGE, version });

interface World {
    clock: VirtualClock;
    fake: FakeAzure;
    compute: ComputeModule;
    dv: DesktopVirtualizationModule;
}

async function world(capacity: number, mode: UpgradeMode, image: ImageSeed): Promise<World> {
    const clock = new VirtualClock();
    const compute = new ComputeModule();
    compute.publishMarketplaceVersion(IMAGE, OLD);
    compute.publishMarketplaceVersion(IMAGE, NEW);
    const healthy = (input: RunCommandInput) => ({
        stdout: JSON.stringify({
            computerName: input.computerName,
            domainJoined: false,
            entraJoined: true,
            services: { RDAgent: "Running", RDAgentBootLoader: "Running", frxsvc: "Running" },
            cpuPercent: 10,
            freeMemoryPercent: 60,
            lastLogon: null,
            bootTime: "2026-01-12T08:00:00.0000000Z",
        }),
    });
    const rc = new RunCommandModule(compute, { defaultRunCommand: healthy });
    const dv = new DesktopVirtualizationModule({ compute });
    const fake = await startFakeAzure({ clock, acceptToken: TOKEN }, [compute, rc, dv]);
    compute.addScaleSet({ id: VMSS, capacity, imageReferenceId: image, computerNamePrefix: "avdbg", upgradeMode: mode, rollingUpgradePolicy: { maxBatchInstancePercent: 50 } });
    dv.addHostPool({ id: HOST_POOL, scaleSetId: VMSS });
    return { clock, fake, compute, dv };
}

function baseEnv(w: World, image: string): NodeJS.ProcessEnv {
    return { AZURE_RESOURCE_MANAGER_ENDPOINT: w.fake.url, AVD_ARM_ACCESS_TOKEN: TOKEN, AVD_VMSS_ID: VMSS, AVD_HOST_POOL_ID: HOST_POOL, AVD_MARKETPLACE_IMAGE: image, AVD_POLL_SECONDS: "30" };
}

async function run<T>(main: typeof gateMain, w: World, env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string[]; result?: T }> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await main(env, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { clock: w.clock });
    const last = stdout[stdout.length - 1];
    return { code, stderr, result: code === 0 && last ? (JSON.parse(last) as T) : undefined };
}

const rollout = (w: World, image: string) =>
    run<RolloutResult>(rolloutMain, w, {
        ...baseEnv(w, image),
        AVD_MAX_BATCH_PERCENT: "50",
        AVD_MAX_UNHEALTHY_PERCENT: "20",
        AVD_MAX_UNHEALTHY_UPGRADED_PERCENT: "20",
        AVD_PAUSE_BETWEEN_BATCHES: "PT10M",
        AVD_DRAIN_TIMEOUT_MINUTES: "60",
    });

const gate = (w: World, image: string, mode: UpgradeMode, timeoutMinutes = 90) =>
    run<GateResult>(gateMain, w, { ...baseEnv(w, image), AVD_UPGRADE_MODE: mode, AVD_GATE_TIMEOUT_MINUTES: String(timeoutMinutes) });

describe("marketplace break-glass pool (AVD_MARKETPLACE_IMAGE)", () => {
    let w: World | undefined;
    afterEach(async () => {
        await w?.fake.stop();
        w = undefined;
    });

    it("a Manual marketplace pool rolls out onto the pinned version and the gate validates it as a marketplace image", async () => {
        w = await world(4, "Manual", at(OLD));
        w.compute.setModelImage(VMSS, at(NEW));
        // Azure compares publisher, offer and SKU without regard to case.
        const image = `microsoftwindowsdesktop:Office-365:WIN11-24H2-AVD-M365:${NEW}`;

        const moved = await rollout(w, image);
        assert.equal(moved.code, 0, moved.stderr.join("\n"));
        assert.deepEqual(
            { ...moved.result, signedOutSessions: undefined, hostsLeftDrained: undefined },
            {
                imageVersion: NEW,
                marketplaceImage: { publisher: "microsoftwindowsdesktop", offer: "Office-365", sku: "WIN11-24H2-AVD-M365", version: NEW },
                instancesUpgraded: 4,
                instancesAlreadyCurrent: 0,
                batches: 3,
                signedOutSessions: undefined,
                hostsLeftDrained: undefined,
            },
        );
        assert.deepEqual(w.compute.instances(VMSS).map((i) => i.exactVersion), [NEW, NEW, NEW, NEW]);

        const validated = await gate(w, image, "Manual");
        assert.equal(validated.code, 0, validated.stderr.join("\n"));
        assert.equal(validated.result?.validatedImageVersion, NEW);
        assert.ok(validated.result && "marketplaceImage" in validated.result && !("imageVersionId" in validated.result), JSON.stringify(validated.result));
        assert.deepEqual(validated.result.marketplaceImage.exactVersions, [NEW]);
        assert.equal(validated.result.hostsPassed, 4);
    });

    it("a second run finds every host current by its exactVersion and upgrades nothing", async () => {
        w = await world(3, "Manual", at(NEW));
        const again = await rollout(w, formatMarketplaceImage(at(NEW)));
        assert.equal(again.code, 0, again.stderr.join("\n"));
        assert.equal(again.result?.instancesAlreadyCurrent, 3);
        assert.deepEqual(w.compute.manualUpgrades, []);
    });

    it("the gate fails while hosts still run the old marketplace version", async () => {
        w = await world(2, "Manual", at(OLD));
        w.compute.setModelImage(VMSS, at(NEW));
        const g = await gate(w, formatMarketplaceImage(at(NEW)), "Manual", 5);
        assert.equal(g.code, 1);
        assert.ok(g.stderr.some((l) => l.includes(`not on ${NEW}`)), g.stderr.join("\n"));
    });

    it("a Rolling test pool on latest is validated, reporting the exact version latest resolved to", async () => {
        w = await world(2, "Rolling", at("latest"));
        const g = await gate(w, formatMarketplaceImage(at("latest")), "Rolling");
        assert.equal(g.code, 0, g.stderr.join("\n"));
        assert.equal(g.result?.validatedImageVersion, "latest");
        assert.ok(g.result && "marketplaceImage" in g.result);
        assert.deepEqual(g.result.marketplaceImage.exactVersions, [NEW]);
    });

    it("the Manual rollout refuses a model on latest before draining anything: nothing pins what it would move to", async () => {
        w = await world(2, "Manual", at("latest"));
        const r = await rollout(w, formatMarketplaceImage(at("latest")));
        assert.equal(r.code, 1);
        assert.ok(r.stderr.some((l) => l.includes(`references marketplace image ${formatMarketplaceImage(at("latest"))}`)), r.stderr.join("\n"));
        assert.deepEqual(w.dv.drainChanges, []);
    });

    it("the tools refuse a model on another marketplace image or on a gallery image", async () => {
        w = await world(2, "Manual", at(NEW));
        const otherSku = await rollout(w, `${IMAGE.publisher}:${IMAGE.offer}:win11-23h2-avd-m365:${NEW}`);
        assert.equal(otherSku.code, 1);
        assert.ok(otherSku.stderr.some((l) => l.includes(`its model has ${formatMarketplaceImage(at(NEW))}`)), otherSku.stderr.join("\n"));
        await w.fake.stop();
        w = await world(2, "Manual", GALLERY_VERSION);
        const g = await gate(w, formatMarketplaceImage(at(NEW)), "Manual");
        assert.equal(g.code, 1);
        assert.ok(g.stderr.some((l) => l.includes("does not reference image version")), g.stderr.join("\n"));
    });

    it("the fake refuses to turn a gallery pool into a marketplace one, as Azure does", async () => {
        w = await world(1, "Manual", GALLERY_VERSION);
        const res = await fetch(`${w.fake.url}${VMSS}?api-version=2024-11-01`, {
            method: "PATCH",
            headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
            body: JSON.stringify({ properties: { virtualMachineProfile: { storageProfile: { imageReference: at(NEW) } } } }),
        });
        assert.equal(res.status, 409);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, "PropertyChangeNotAllowed");
    });
});

describe("the AVD_MARKETPLACE_IMAGE contract", () => {
    const env = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ AVD_VMSS_ID: VMSS, AVD_HOST_POOL_ID: HOST_POOL, AVD_UPGRADE_MODE: "Manual", ...extra });

    it("reads publisher:offer:sku:version, latest in any case", () => {
        const t = readGateInputs(env({ AVD_MARKETPLACE_IMAGE: "MicrosoftWindowsDesktop:office-365:win11-24h2-avd-m365:Latest" }));
        assert.equal(t.source, "marketplace");
        assert.equal(t.imageVersion, "latest");
        assert.deepEqual(parseMarketplaceImage(formatMarketplaceImage(at(NEW))), at(NEW));
    });

    it("wants exactly one of AVD_IMAGE_VERSION_ID and AVD_MARKETPLACE_IMAGE", () => {
        assert.throws(() => readGateInputs(env({ AVD_MARKETPLACE_IMAGE: formatMarketplaceImage(at(NEW)), AVD_IMAGE_VERSION_ID: GALLERY_VERSION })), /are both set: .* set exactly one/);
        assert.throws(() => readGateInputs(env({})), /AVD_IMAGE_VERSION_ID is not set: .* or set AVD_MARKETPLACE_IMAGE/);
    });

    it("names the variable and the part that is wrong", () => {
        assert.throws(() => readGateInputs(env({ AVD_MARKETPLACE_IMAGE: "MicrosoftWindowsDesktop:office-365:win11" })), /AVD_MARKETPLACE_IMAGE: ".*" is not publisher:offer:sku:version/);
        assert.throws(() => readGateInputs(env({ AVD_MARKETPLACE_IMAGE: "MicrosoftWindowsDesktop:office 365:win11:latest" })), /invalid offer "office 365"/);
        assert.throws(() => readGateInputs(env({ AVD_MARKETPLACE_IMAGE: "MicrosoftWindowsDesktop:office-365:win11:26100.2605" })), /version "26100.2605", which is neither Major.Minor.Build nor latest/);
    });
});

describe("offline preview of a marketplace pool's commands", () => {
    const command = (tool: string): MockResourceArgs => ({
        type: "command:local:Command",
        name: tool,
        inputs: { create: `node_modules/.bin/tsx tools/${tool}.ts`, environment: { AVD_MARKETPLACE_IMAGE: formatMarketplaceImage(at(NEW)) } },
        provider: "",
        id: "",
        custom: true,
    });

    it("prints what the rollout and the gate print for a marketplace image, so the pool's validatedImageVersion is its version", () => {
        const rolled = JSON.parse(simulatedCommandStdout(command("rollout"), {})) as RolloutResult;
        assert.ok("marketplaceImage" in rolled && rolled.imageVersion === NEW);
        const gated = JSON.parse(simulatedCommandStdout(command("healthGate"), {})) as GateResult;
        assert.equal(gated.validatedImageVersion, NEW);
        assert.ok("marketplaceImage" in gated && gated.marketplaceImage.exactVersions[0] === NEW);
    });
});
