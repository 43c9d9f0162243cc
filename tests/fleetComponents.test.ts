// The components built from their narrow args alone, as a fleet wires them: no stack file parsed.
import { strict as assert } from "node:assert";
import { GoldenImageBuild } from "../components/goldenImageBuild";
import { ImageGallery } from "../components/imageGallery";
import { ImageRollout } from "../components/imageRollout";
import { SessionHostPool } from "../components/sessionHostPool";
import { simulatedCommandStdout } from "../preview/commands";
import { evaluate, type Evaluation, type RecordedResource } from "../preview/engine";
import type { GalleryConfig, ImageConfig, SessionHostsConfig } from "../src/config/types";
import { sessionHostResourceNames } from "../src/sessionHosts/naming";

const SUBSCRIPTION = "8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f";
const RG = "rg-avd-images-test";
const RG_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}`;
const SUBNET = `${RG_ID}/providers/Microsoft.Network/virtualNetworks/vnet-avd/subnets/snet-avd`;

function definition(name: string, sku: string): GalleryConfig {
    return { name: "avd_golden_images", imageDefinitionName: name, publisher: "Contoso", offer: "AVD-GoldenImage", sku, hyperVGeneration: "V2", description: `${name} for AVD` };
}

function image(name: string, sku: string): ImageConfig {
    return {
        gallery: definition(name, sku),
        baseImage: { publisher: "MicrosoftWindowsDesktop", offer: "windows-11", sku: "win11-24h2-avd", version: "latest" },
        build: { vmSize: "Standard_D4s_v5", osDiskSizeGb: 127, timeoutMinutes: 240, onCustomizerError: "cleanup", onValidationError: "cleanup" },
        customizations: {
            windowsUpdate: { enabled: true, searchCriteria: "IsInstalled=0", filters: ["include:$true"], updateLimit: 1000 },
            powershellModules: [],
            inlineScripts: [{ name: "timezone", lines: ["Set-TimeZone -Id 'W. Europe Standard Time'"] }],
            scriptUris: [],
            chocolateyPackages: [{ name: "7zip", version: "24.9.0" }],
            restartAfterCustomization: false,
            runOptimization: false,
            runCleanup: true,
        },
        distribution: { replicationRegions: ["westeurope"], replicaCount: 1, storageAccountType: "Standard_LRS", excludeFromLatest: false },
        tags: {},
    };
}

const SESSION_HOSTS: SessionHostsConfig = {
    hostPool: { friendlyName: "Break glass", loadBalancerType: "BreadthFirst", maxSessionLimit: 8, validationEnvironment: false, registrationTokenValidityDays: 27 },
    vmSize: "Standard_D4s_v5",
    capacity: 2,
    computerNamePrefix: "avdbrk",
    zones: ["1"],
    subnetId: SUBNET,
    adminUsername: "avdadmin",
    osDiskSizeGb: 128,
    osDiskType: "Premium_LRS",
    upgradeMode: "Manual",
    rollingUpgrade: {
        maxBatchInstancePercent: 50,
        maxUnhealthyInstancePercent: 50,
        maxUnhealthyUpgradedInstancePercent: 50,
        pauseTimeBetweenBatches: "PT2M",
        prioritizeUnhealthyInstances: true,
        maxSurge: false,
        rollbackFailedInstancesOnPolicyBreach: true,
    },
    drain: { timeoutMinutes: 30, forceLogoffAfterTimeout: false, logOffDisconnectedSessions: false },
    rollout: { strategy: "reimage", pacing: "host" },
    healthGate: { maxLoginSeconds: 30, loginProbe: false, maxCpuPercent: 80, minFreeMemoryPercent: 20, checkFslogix: false, probeTimeoutMinutes: 10 },
    domainJoin: { type: "EntraID", intuneEnroll: false },
    useLatestImage: false,
};

const MARKETPLACE = { publisher: "MicrosoftWindowsDesktop", offer: "office-365", sku: "win11-24h2-avd-m365", version: "26100.2605.241207" };

function run(program: () => Promise<Record<string, unknown>>): Promise<Evaluation> {
    return evaluate({
        project: "avd-image-rings",
        stack: "test",
        config: {},
        secretKeys: [],
        program,
        simulation: { subscriptionId: SUBSCRIPTION, tenantId: "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", stackOutputs: () => undefined, commandStdout: (args) => simulatedCommandStdout(args, {}) },
    });
}

const named = (e: Evaluation, name: string): RecordedResource => {
    const r = e.resources.find((x) => x.name === name);
    assert.ok(r, `${name} is registered`);
    return r;
};

describe("fleet components from their narrow args", function () {
    this.timeout(60_000);

    it("ImageGallery: one gallery, one protected definition per image, logical names by suffix", async () => {
        const e = await run(async () => {
            const g = new ImageGallery("gallery", {
                resourceGroupName: RG,
                location: "westeurope",
                galleryName: "avd_golden_images",
                imageDefinitions: {
                    m365: { definition: definition("avd-win11-m365", "Win11-M365"), logicalSuffix: "-m365" },
                    cad: { definition: definition("avd-win11-cad", "Win11-CAD"), logicalSuffix: "-cad" },
                },
                tags: {},
            });
            return { m365: g.imageDefinitionIds.m365, cad: g.imageDefinitionIds.cad };
        });
        assert.equal(e.resources.filter((r) => r.type === "azure-native:compute:Gallery").length, 1);
        assert.equal(named(e, "gallery-definition-cad").inputs.galleryImageName, "avd-win11-cad");
        assert.equal(named(e, "gallery-definition-m365").options.protect, true);
        assert.match(String(e.outputs.cad), /\/galleries\/avd_golden_images\/images\/avd-win11-cad$/);
    });

    it("GoldenImageBuild: two images in one resource group get distinct custom roles and identities", async () => {
        const e = await run(async () => {
            for (const [name, sku] of [["m365", "Win11-M365"], ["cad", "Win11-CAD"]]) {
                new GoldenImageBuild(`golden-image-${name}`, {
                    resourceGroupName: RG,
                    resourceGroupId: RG_ID,
                    location: "westeurope",
                    imageVersion: "1.0.0",
                    image: image(`avd-win11-${name}`, sku),
                    imageDefinitionId: `${RG_ID}/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-${name}`,
                    tags: {},
                    perImageRoles: true,
                });
            }
            return {};
        });
        const roles = e.resources.filter((r) => r.type === "azure-native:authorization:RoleDefinition");
        assert.equal(roles.length, 2);
        assert.notEqual(roles[0].inputs.roleDefinitionId, roles[1].inputs.roleDefinitionId);
        assert.notEqual(roles[0].inputs.roleName, roles[1].inputs.roleName, "role names are unique in the tenant too");
        const identities = e.resources.filter((r) => r.type === "azure-native:managedidentity:UserAssignedIdentity").map((r) => r.inputs.resourceName);
        assert.deepEqual(identities.sort(), ["id-aib-avd-win11-cad", "id-aib-avd-win11-m365"]);
    });

    it("SessionHostPool + ImageRollout: a marketplace pool references the image by URN parts and the tools get AVD_MARKETPLACE_IMAGE", async () => {
        const e = await run(async () => {
            const hosts = new SessionHostPool("session-hosts-breakglass", {
                placement: { stack: "prod", pool: "breakglass", location: "westeurope", resourceGroupName: "rg-avd-prod", names: sessionHostResourceNames("prod", "breakglass"), tags: { Ring: "prod" } },
                sessionHosts: SESSION_HOSTS,
                image: { kind: "marketplace", image: MARKETPLACE },
                now: new Date("2026-12-02T00:00:00Z"),
            });
            const rollout = new ImageRollout(
                "rollout-breakglass",
                { sessionHosts: SESSION_HOSTS, vmssId: hosts.vmssId, hostPoolId: hosts.hostPoolId, image: { kind: "marketplace", image: MARKETPLACE } },
                { dependsOn: [hosts] },
            );
            return { imageReferenceId: hosts.imageReferenceId, validated: rollout.validatedImageVersion };
        });
        const vmss = named(e, "session-hosts-breakglass-vmss");
        assert.equal(vmss.inputs.vmScaleSetName, "vmss-avd-prod-breakglass");
        assert.deepEqual((vmss.inputs.virtualMachineProfile as { storageProfile: { imageReference: unknown } }).storageProfile.imageReference, MARKETPLACE);
        assert.match(String(named(e, "session-hosts-breakglass-hostpool").inputs.description), /pool breakglass of the prod ring/);
        const rollout = named(e, "rollout-breakglass-drain-and-upgrade");
        const env = rollout.inputs.environment as Record<string, string>;
        assert.equal(env.AVD_MARKETPLACE_IMAGE, "MicrosoftWindowsDesktop:office-365:win11-24h2-avd-m365:26100.2605.241207");
        assert.equal(env.AVD_IMAGE_VERSION_ID, undefined);
        assert.deepEqual(rollout.inputs.triggers, ["MicrosoftWindowsDesktop:office-365:win11-24h2-avd-m365:26100.2605.241207"]);
        assert.equal(e.outputs.validated, "26100.2605.241207");
    });
});
