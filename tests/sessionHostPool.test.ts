import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { SessionHostPool, type SessionHostPoolArgs } from "../components/sessionHostPool";
import { parseRingConfig } from "../src/config/parse";
import type { RingConfig } from "../src/config/types";
import { poolPlacement } from "../src/fleet";
import { onlyPool } from "./fixtures/fleet";
import { registrationTokenWindow } from "../src/sessionHosts/registrationToken";
import { evaluate, type Evaluation, type RecordedResource } from "../preview/engine";
import type { SimulationContext } from "../preview/simulate";

const SUBSCRIPTION = "8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f";
const GALLERY_RG = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-avd-images-test`;
const IMAGE_DEFINITION_ID = `${GALLERY_RG}/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365`;
const IMAGE_VERSION_ID = `${IMAGE_DEFINITION_ID}/versions/1.2.0`;
const SUBNET = (name: string) => `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-avd-network/providers/Microsoft.Network/virtualNetworks/vnet-avd-weu/subnets/${name}`;
const NOW = new Date("2026-11-20T10:00:00Z");
const AD_PASSWORD = "Offline-Join-Pa55!";

// The session-host parts of Pulumi.test.yaml and Pulumi.prod.yaml.
const testRing = {
    imageVersion: "1.2.0",
    location: "westeurope",
    resourceGroupName: "rg-avd-images-test",
    image: {
        gallery: { name: "avd_golden_images", imageDefinitionName: "avd-win11-m365", publisher: "Contoso", offer: "AVD-GoldenImage", sku: "Win11-24H2-M365" },
    },
    sessionHosts: {
        hostPool: { friendlyName: "AVD test ring", loadBalancerType: "BreadthFirst", maxSessionLimit: 8, validationEnvironment: true },
        vmSize: "Standard_D4s_v5",
        capacity: 2,
        computerNamePrefix: "avdtst",
        zones: ["1", "2"],
        subnetId: SUBNET("snet-avd-test"),
        osDiskSizeGb: 128,
        osDiskType: "Premium_LRS",
        upgradeMode: "Rolling",
        rollingUpgrade: { maxBatchInstancePercent: 50, maxUnhealthyInstancePercent: 50, maxUnhealthyUpgradedInstancePercent: 50, pauseTimeBetweenBatches: "PT2M" },
        healthGate: { maxLoginSeconds: 30, checkFslogix: false },
        domainJoin: { type: "EntraID" },
    },
    tags: { Environment: "Test", CostCenter: "EUC" },
};

const prodRing = {
    imageVersion: "1.2.0",
    promoteFrom: "contoso/avd-image-rings/pilot",
    location: "westeurope",
    resourceGroupName: "rg-avd-prod",
    sessionHosts: {
        hostPool: { friendlyName: "AVD production", loadBalancerType: "BreadthFirst", maxSessionLimit: 12 },
        vmSize: "Standard_D8s_v5",
        capacity: 60,
        computerNamePrefix: "avdprd",
        zones: ["1", "2", "3"],
        subnetId: SUBNET("snet-avd-prod"),
        osDiskSizeGb: 128,
        osDiskType: "Premium_LRS",
        upgradeMode: "Manual",
        rollingUpgrade: { maxBatchInstancePercent: 10, maxUnhealthyInstancePercent: 10, maxUnhealthyUpgradedInstancePercent: 5, pauseTimeBetweenBatches: "PT15M" },
        healthGate: { maxLoginSeconds: 30, loginProbe: false },
        domainJoin: { type: "EntraID", intuneEnroll: true },
    },
    tags: { Environment: "Production", CostCenter: "EUC" },
};

const simulation: SimulationContext = {
    subscriptionId: SUBSCRIPTION,
    tenantId: "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
    stackOutputs: () => undefined,
    commandStdout: () => "",
};

/** The narrow args of the ring's one pool, as index.ts builds them. */
function poolArgs(ring: RingConfig): SessionHostPoolArgs {
    const pool = onlyPool(ring);
    return {
        placement: poolPlacement(ring, pool, ring.resourceGroupName),
        sessionHosts: pool.sessionHosts,
        image: { kind: "gallery", imageDefinitionId: IMAGE_DEFINITION_ID, imageVersionId: IMAGE_VERSION_ID },
        now: NOW,
    };
}

async function run(stack: string, values: Record<string, unknown>, secrets: Record<string, string> = {}): Promise<Evaluation> {
    return evaluate({
        project: "avd-image-rings",
        stack,
        config: {},
        secretKeys: [],
        simulation,
        program: async () => {
            const ring = parseRingConfig({ stack, values, secret: (key) => (secrets[key] === undefined ? undefined : pulumi.secret(secrets[key])) });
            const pool = new SessionHostPool(`ring-${stack}`, poolArgs(ring));
            return {
                hostPoolId: pool.hostPoolId,
                hostPoolName: pool.hostPoolName,
                applicationGroupId: pool.applicationGroupId,
                workspaceId: pool.workspaceId,
                vmssId: pool.vmssId,
                vmssName: pool.vmssName,
                imageReferenceId: pool.imageReferenceId,
            };
        },
    });
}

function one(evaluation: Evaluation, type: string): RecordedResource {
    const found = evaluation.resources.filter((r) => r.type === type);
    assert.equal(found.length, 1, `exactly one ${type}`);
    return found[0];
}

/** Reads a nested input without casting: each step must be an object (or array) that has the key. */
function at(value: unknown, ...path: Array<string | number>): unknown {
    let current = value;
    for (const key of path) {
        if (current === null || typeof current !== "object") return undefined;
        current = (current as Record<string | number, unknown>)[key];
    }
    return current;
}

function list(value: unknown): unknown[] {
    assert.ok(Array.isArray(value), `expected a list, got ${JSON.stringify(value)}`);
    return value;
}

const HOST_POOL = "azure-native:desktopvirtualization:HostPool";
const APP_GROUP = "azure-native:desktopvirtualization:ApplicationGroup";
const WORKSPACE = "azure-native:desktopvirtualization:Workspace";
const VMSS = "azure-native:compute:VirtualMachineScaleSet";
const PASSWORD = "random:index/randomPassword:RandomPassword";

describe("SessionHostPool component", () => {
    let test: Evaluation;
    let prod: Evaluation;

    before(async () => {
        test = await run("test", testRing);
        prod = await run("prod", prodRing);
    });

    describe("resource graph", () => {
        it("builds a host pool, desktop app group, workspace, admin password and scale set under one component", () => {
            const component = one(test, "avd-image-rings:rings:SessionHostPool");
            const children = test.resources.filter((r) => r.parent === component.urn).map((r) => r.type).sort();
            assert.deepEqual(children, [APP_GROUP, HOST_POOL, WORKSPACE, VMSS, PASSWORD].sort());
        });

        it("names every Azure resource after the ring and tags it with the ring", () => {
            assert.equal(one(prod, HOST_POOL).inputs.hostPoolName, "vdpool-avd-prod");
            assert.equal(one(prod, APP_GROUP).inputs.applicationGroupName, "vdag-avd-prod");
            assert.equal(one(prod, WORKSPACE).inputs.workspaceName, "vdws-avd-prod");
            assert.equal(one(prod, VMSS).inputs.vmScaleSetName, "vmss-avd-prod");
            for (const type of [HOST_POOL, APP_GROUP, WORKSPACE, VMSS]) {
                const r = one(prod, type);
                assert.deepEqual(r.inputs.tags, { Environment: "Production", CostCenter: "EUC", Ring: "prod" }, type);
                assert.equal(r.inputs.resourceGroupName, "rg-avd-prod", type);
                assert.equal(r.inputs.location, "westeurope", type);
            }
        });

        it("publishes the host pool's desktop through the app group in the workspace", () => {
            const hostPool = one(test, HOST_POOL);
            const appGroup = one(test, APP_GROUP);
            assert.equal(appGroup.inputs.applicationGroupType, "Desktop");
            assert.equal(appGroup.inputs.hostPoolArmPath, hostPool.id);
            assert.match(String(hostPool.id), /\/resourceGroups\/rg-avd-images-test\/providers\/Microsoft\.DesktopVirtualization\/hostPools\/vdpool-avd-test$/);
            assert.deepEqual(one(test, WORKSPACE).inputs.applicationGroupReferences, [appGroup.id]);
        });

        it("exports the ids and names the rollout and the promotion contract need", () => {
            assert.equal(test.outputs.hostPoolName, "vdpool-avd-test");
            assert.equal(test.outputs.hostPoolId, one(test, HOST_POOL).id);
            assert.equal(test.outputs.applicationGroupId, one(test, APP_GROUP).id);
            assert.equal(test.outputs.workspaceId, one(test, WORKSPACE).id);
            assert.equal(test.outputs.vmssId, one(test, VMSS).id);
            assert.equal(test.outputs.vmssName, "vmss-avd-test");
            assert.equal(test.outputs.imageReferenceId, IMAGE_VERSION_ID);
        });
    });

    describe("host pool", () => {
        it("is a pooled desktop pool with the ring's load balancing and session limit", () => {
            const inputs = one(prod, HOST_POOL).inputs;
            assert.equal(inputs.hostPoolType, "Pooled");
            assert.equal(inputs.preferredAppGroupType, "Desktop");
            assert.equal(inputs.loadBalancerType, "BreadthFirst");
            assert.equal(inputs.maxSessionLimit, 12);
            assert.equal(inputs.startVMOnConnect, false);
            assert.equal(one(test, HOST_POOL).inputs.maxSessionLimit, 8);
        });

        it("puts only the test ring in AVD's validation environment", () => {
            assert.equal(one(test, HOST_POOL).inputs.validationEnvironment, true);
            assert.equal(one(prod, HOST_POOL).inputs.validationEnvironment, false);
        });

        it("issues a registration token that expires at the end of the current renewal window", () => {
            assert.deepEqual(one(prod, HOST_POOL).inputs.registrationInfo, {
                expirationTime: registrationTokenWindow(NOW, 27).expirationTime,
                registrationTokenOperation: "Update",
            });
        });

        it("lets clients on non-joined devices reach Entra-joined hosts", () => {
            assert.equal(one(prod, HOST_POOL).inputs.customRdpProperty, "targetisaadjoined:i:1;");
        });
    });

    describe("scale set", () => {
        it("lets Azure roll the test ring and leaves prod to the drain-aware rollout (Manual)", () => {
            assert.equal(at(one(test, VMSS).inputs, "upgradePolicy", "mode"), "Rolling");
            assert.equal(at(one(prod, VMSS).inputs, "upgradePolicy", "mode"), "Manual");
        });

        it("records each ring's rolling-upgrade policy from its stack file, with the parsed defaults", () => {
            assert.deepEqual(at(one(test, VMSS).inputs, "upgradePolicy", "rollingUpgradePolicy"), {
                maxBatchInstancePercent: 50,
                maxUnhealthyInstancePercent: 50,
                maxUnhealthyUpgradedInstancePercent: 50,
                pauseTimeBetweenBatches: "PT2M",
                prioritizeUnhealthyInstances: true,
                maxSurge: false,
                rollbackFailedInstancesOnPolicyBreach: true,
            });
            assert.deepEqual(at(one(prod, VMSS).inputs, "upgradePolicy", "rollingUpgradePolicy"), {
                maxBatchInstancePercent: 10,
                maxUnhealthyInstancePercent: 10,
                maxUnhealthyUpgradedInstancePercent: 5,
                pauseTimeBetweenBatches: "PT15M",
                prioritizeUnhealthyInstances: true,
                maxSurge: false,
                rollbackFailedInstancesOnPolicyBreach: true,
            });
        });

        it("references the pinned image version, not the definition's latest", () => {
            const id = at(one(prod, VMSS).inputs, "virtualMachineProfile", "storageProfile", "imageReference", "id");
            assert.equal(id, IMAGE_VERSION_ID);
        });

        it("sizes and places hosts from the ring's config", () => {
            const inputs = one(prod, VMSS).inputs;
            assert.deepEqual(inputs.sku, { name: "Standard_D8s_v5", tier: "Standard", capacity: 60 });
            assert.deepEqual(inputs.zones, ["1", "2", "3"]);
            assert.equal(inputs.orchestrationMode, "Uniform");
            const profile = inputs.virtualMachineProfile;
            assert.equal(at(profile, "osProfile", "computerNamePrefix"), "avdprd");
            assert.equal(at(profile, "osProfile", "adminUsername"), "avdadmin");
            assert.deepEqual(at(profile, "storageProfile", "osDisk"), {
                createOption: "FromImage",
                caching: "ReadWrite",
                osType: "Windows",
                diskSizeGB: 128,
                managedDisk: { storageAccountType: "Premium_LRS" },
            });
        });

        it("never creates phantom or self-repairing hosts: no overprovisioning, no automatic repairs", () => {
            const inputs = one(test, VMSS).inputs;
            assert.equal(inputs.overprovision, false);
            assert.deepEqual(inputs.automaticRepairsPolicy, { enabled: false });
        });

        it("runs multi-session Windows as Trusted Launch VMs with boot diagnostics", () => {
            const profile = one(test, VMSS).inputs.virtualMachineProfile;
            assert.equal(at(profile, "licenseType"), "Windows_Client");
            assert.deepEqual(at(profile, "securityProfile"), { securityType: "TrustedLaunch", uefiSettings: { secureBootEnabled: true, vTpmEnabled: true } });
            assert.deepEqual(at(profile, "diagnosticsProfile"), { bootDiagnostics: { enabled: true } });
        });

        it("puts hosts in the ring's subnet with accelerated networking and no public IP", () => {
            const nics = list(at(one(test, VMSS).inputs, "virtualMachineProfile", "networkProfile", "networkInterfaceConfigurations"));
            assert.equal(nics.length, 1);
            assert.equal(at(nics[0], "enableAcceleratedNetworking"), true);
            for (const ipConfig of list(at(nics[0], "ipConfigurations"))) {
                assert.equal(at(ipConfig, "publicIPAddressConfiguration"), undefined);
                assert.equal(at(ipConfig, "subnet", "id"), SUBNET("snet-avd-test"));
            }
            assert.ok(!JSON.stringify(one(test, VMSS).inputs).includes("publicIPAddress"));
        });

        it("gives Entra-joined hosts a system-assigned identity", () => {
            assert.deepEqual(one(prod, VMSS).inputs.identity, { type: "SystemAssigned" });
        });

        it("provisions join, agent registration and health in that order", () => {
            const extensions = list(at(one(prod, VMSS).inputs, "virtualMachineProfile", "extensionProfile", "extensions"));
            assert.deepEqual(extensions.map((e) => at(e, "name")), ["AADLoginForWindows", "AvdAgentRegistration", "ApplicationHealth"]);
            assert.deepEqual(at(extensions[1], "provisionAfterExtensions"), ["AADLoginForWindows"]);
            assert.deepEqual(at(extensions[2], "provisionAfterExtensions"), ["AvdAgentRegistration"]);
            assert.deepEqual(at(extensions[0], "settings"), { mdmId: "0000000a-0000-0000-c000-000000000000" });
            assert.equal(at(extensions[2], "settings", "port"), 8090);
        });
    });

    describe("secrets", () => {
        it("masks the admin password and the registration command in the recorded inputs", () => {
            const profile = one(test, VMSS).inputs.virtualMachineProfile;
            assert.equal(at(profile, "osProfile", "adminPassword"), "[secret]");
            const extensions = list(at(profile, "extensionProfile", "extensions"));
            assert.equal(at(extensions[1], "protectedSettings"), "[secret]");
        });

        it("never shows the password or the registration token anywhere in the plan or the outputs", () => {
            for (const evaluation of [test, prod]) {
                const text = JSON.stringify(evaluation);
                assert.ok(!text.includes("offline-preview-not-a-password"), "admin password");
                assert.ok(!text.includes("offline-preview-registration-token"), "registration token");
            }
        });
    });

    describe("variants", () => {
        it("joins Active Directory with the secret join password, without an identity or Entra RDP property", async () => {
            const adRing = {
                ...prodRing,
                sessionHosts: {
                    ...prodRing.sessionHosts,
                    domainJoin: { type: "ActiveDirectory", domainName: "corp.contoso.com", ouPath: "OU=AVD,DC=corp,DC=contoso,DC=com", username: "svc-avdjoin" },
                },
            };
            const evaluation = await run("prod", adRing, { domainJoinPassword: AD_PASSWORD });
            const vmss = one(evaluation, VMSS).inputs;
            const extensions = list(at(vmss, "virtualMachineProfile", "extensionProfile", "extensions"));
            assert.deepEqual(extensions.map((e) => at(e, "name")), ["DomainJoin", "AvdAgentRegistration", "ApplicationHealth"]);
            assert.equal(at(extensions[0], "type"), "JsonADDomainExtension");
            assert.equal(at(extensions[0], "settings", "User"), "corp.contoso.com\\svc-avdjoin");
            assert.equal(at(extensions[0], "protectedSettings"), "[secret]");
            assert.equal(vmss.identity, undefined);
            assert.equal(one(evaluation, HOST_POOL).inputs.customRdpProperty, undefined);
            assert.ok(!JSON.stringify(evaluation).includes(AD_PASSWORD), "the domain password never appears");
        });

        it("previews a ring whose registration token expired: this update renews it, so preview must not fail", async () => {
            const ring = parseRingConfig({ stack: "prod", values: prodRing, secret: () => undefined });
            const program = async () => {
                const pool = new SessionHostPool("session-hosts", poolArgs(ring));
                return { vmssId: pool.vmssId };
            };
            const expired = { ...simulation, expiredRegistrationToken: true };
            const base = { project: "avd-image-rings", stack: "prod", config: {}, secretKeys: [], program, simulation: expired };
            const preview = await evaluate({ ...base, dryRun: true });
            assert.ok(preview.resources.some((r) => r.type === VMSS), "the scale set is still planned");
            // An update that still gets no token fails rather than registering hosts without one.
            await assert.rejects(evaluate({ ...base, dryRun: false, timeoutMs: 2000 }), /no registration token|did not finish/);
        });

        it("uses the configured admin password secret instead of generating one, and never shows it", async () => {
            const configured = "Configured-Admin-Pa55!";
            const evaluation = await run("prod", prodRing, { adminPassword: configured });
            assert.equal(evaluation.resources.filter((r) => r.type === PASSWORD).length, 0, "no password is generated");
            assert.equal(at(one(evaluation, VMSS).inputs, "virtualMachineProfile", "osProfile", "adminPassword"), "[secret]");
            assert.ok(!JSON.stringify(evaluation).includes(configured), "the admin password never appears");
        });

        it("follows the definition's latest version only for a ring with useLatestImage", async () => {
            const latest = await run("test", { ...testRing, sessionHosts: { ...testRing.sessionHosts, useLatestImage: true } });
            assert.equal(at(one(latest, VMSS).inputs, "virtualMachineProfile", "storageProfile", "imageReference", "id"), IMAGE_DEFINITION_ID);
            assert.equal(latest.outputs.imageReferenceId, IMAGE_DEFINITION_ID);
        });

        it("omits zones for a regional ring", async () => {
            const regional = await run("test", { ...testRing, sessionHosts: { ...testRing.sessionHosts, zones: [] } });
            assert.equal(one(regional, VMSS).inputs.zones, undefined);
        });
    });
});
