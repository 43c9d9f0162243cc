// The session-host scale set. Orchestration mode Uniform: its rolling upgrade policy is GA with
// Manual, Rolling and Automatic modes, and the rollout tool's per-instance calls (manualupgrade,
// reimage, latestModelApplied) are Uniform's model. See docs/session-hosts.md.
import type * as pulumi from "@pulumi/pulumi";
import type { VirtualMachineScaleSetArgs } from "@pulumi/azure-native/compute";
import type { input as azureInputs } from "@pulumi/azure-native/types";
import type { RandomPasswordArgs } from "@pulumi/random";
import type { SessionHostsConfig } from "../config/types";
import { needsSystemAssignedIdentity, type ScaleSetExtension } from "./extensions";
import type { PoolPlacement } from "./naming";
import { scaleSetUpgradePolicy } from "./upgradePolicy";

/**
 * The local administrator's password: Azure wants 12-123 characters from at least three of
 * lower case, upper case, digits and symbols. Without keepers it never rotates on its own.
 */
export const ADMIN_PASSWORD_POLICY: RandomPasswordArgs = {
    length: 32,
    minLower: 2,
    minUpper: 2,
    minNumeric: 2,
    minSpecial: 2,
    overrideSpecial: "!#()*+,-.:;=?@[]^_{}~",
};

export interface ScaleSetInputs {
    placement: PoolPlacement;
    hosts: SessionHostsConfig;
    /** `{id}`: a pinned gallery version, or the image definition for "latest"; or a marketplace image's publisher, offer, sku and version. */
    imageReference: pulumi.Input<azureInputs.compute.ImageReferenceArgs>;
    /** A Pulumi secret. */
    adminPassword: pulumi.Input<string>;
    /** In provisioning order (see sessionHostExtensions). */
    extensions: ScaleSetExtension[];
}

export function scaleSetArgs(inputs: ScaleSetInputs): VirtualMachineScaleSetArgs {
    const { placement, hosts } = inputs;
    const names = placement.names;
    return {
        resourceGroupName: placement.resourceGroupName,
        vmScaleSetName: names.scaleSet,
        location: placement.location,
        orchestrationMode: "Uniform",
        sku: { name: hosts.vmSize, tier: "Standard", capacity: hosts.capacity },
        ...(hosts.zones.length > 0 ? { zones: hosts.zones } : {}),
        // Overprovisioned extra VMs would run the registration extension and appear as phantom session hosts.
        overprovision: false,
        // A single placement group caps a scale set at 100 instances; config allows up to 1000.
        singlePlacementGroup: false,
        // A repair reimages or replaces a host without draining it, with users signed in.
        automaticRepairsPolicy: { enabled: false },
        upgradePolicy: scaleSetUpgradePolicy(hosts),
        ...(needsSystemAssignedIdentity(hosts.domainJoin) ? { identity: { type: "SystemAssigned" } } : {}),
        virtualMachineProfile: {
            // Windows 11 Enterprise multi-session runs under the users' Windows client licences.
            licenseType: "Windows_Client",
            osProfile: {
                computerNamePrefix: hosts.computerNamePrefix,
                adminUsername: hosts.adminUsername,
                adminPassword: inputs.adminPassword,
                windowsConfiguration: { provisionVMAgent: true },
            },
            storageProfile: {
                imageReference: inputs.imageReference,
                osDisk: {
                    createOption: "FromImage",
                    caching: "ReadWrite",
                    osType: "Windows",
                    diskSizeGB: hosts.osDiskSizeGb,
                    managedDisk: { storageAccountType: hosts.osDiskType },
                },
            },
            networkProfile: {
                networkInterfaceConfigurations: [
                    {
                        name: names.networkInterface,
                        primary: true,
                        enableAcceleratedNetworking: true,
                        // No publicIPAddressConfiguration: hosts are reached through the AVD service only.
                        ipConfigurations: [{ name: "ipconfig1", primary: true, subnet: { id: hosts.subnetId } }],
                    },
                ],
            },
            securityProfile: {
                securityType: "TrustedLaunch",
                uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
            },
            // Managed boot diagnostics: no storage account to run, screenshots for a host stuck at boot.
            diagnosticsProfile: { bootDiagnostics: { enabled: true } },
            extensionProfile: { extensions: inputs.extensions },
        },
        tags: placement.tags,
    };
}
