// Least-privilege custom roles for the Image Builder identity. Each role lists exact actions (no
// wildcards) and is assignable only where it is needed; Owner, Contributor and User Access
// Administrator are never used. Role and assignment names are GUIDs derived from their scope, so
// every `pulumi up` addresses the same role instead of creating a new one.
import { createHash } from "node:crypto";
import type { BuildConfig } from "../config/types";

export type AibRolePurpose = "image" | "network" | "staging";

/** Read the image definition and publish versions to it; the managed-image actions cover AIB's intermediate image. */
export const AIB_IMAGE_ACTIONS = [
    "Microsoft.Compute/galleries/read",
    "Microsoft.Compute/galleries/images/read",
    "Microsoft.Compute/galleries/images/versions/read",
    "Microsoft.Compute/galleries/images/versions/write",
    "Microsoft.Compute/images/read",
    "Microsoft.Compute/images/write",
    "Microsoft.Compute/images/delete",
] as const;

/** Place the build VM (and AIB's proxy VM) in the configured subnet. */
export const AIB_NETWORK_ACTIONS = ["Microsoft.Network/virtualNetworks/read", "Microsoft.Network/virtualNetworks/subnets/join/action"] as const;

/**
 * What AIB creates, runs and deletes in a staging resource group: the build VM with its disks,
 * NIC, public IP, VNet and NSG (or the proxy VM, load balancer and private link service when it
 * joins a VNet), the storage account for logs and scripts, the key vault for the WinRM
 * certificate, the managed image it captures, and the deployments that create them.
 */
export const AIB_STAGING_ACTIONS = [
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Resources/deployments/read",
    "Microsoft.Resources/deployments/write",
    "Microsoft.Resources/deployments/delete",
    "Microsoft.Resources/deployments/validate/action",
    "Microsoft.Resources/deployments/operations/read",
    "Microsoft.Resources/deployments/operationstatuses/read",
    "Microsoft.Resources/tags/read",
    "Microsoft.Resources/tags/write",
    "Microsoft.Compute/virtualMachines/read",
    "Microsoft.Compute/virtualMachines/write",
    "Microsoft.Compute/virtualMachines/delete",
    "Microsoft.Compute/virtualMachines/instanceView/read",
    "Microsoft.Compute/virtualMachines/start/action",
    "Microsoft.Compute/virtualMachines/restart/action",
    "Microsoft.Compute/virtualMachines/powerOff/action",
    "Microsoft.Compute/virtualMachines/deallocate/action",
    "Microsoft.Compute/virtualMachines/generalize/action",
    "Microsoft.Compute/disks/read",
    "Microsoft.Compute/disks/write",
    "Microsoft.Compute/disks/delete",
    "Microsoft.Compute/snapshots/read",
    "Microsoft.Compute/snapshots/write",
    "Microsoft.Compute/snapshots/delete",
    "Microsoft.Compute/images/read",
    "Microsoft.Compute/images/write",
    "Microsoft.Compute/images/delete",
    "Microsoft.Network/networkInterfaces/read",
    "Microsoft.Network/networkInterfaces/write",
    "Microsoft.Network/networkInterfaces/delete",
    "Microsoft.Network/networkInterfaces/join/action",
    "Microsoft.Network/publicIPAddresses/read",
    "Microsoft.Network/publicIPAddresses/write",
    "Microsoft.Network/publicIPAddresses/delete",
    "Microsoft.Network/publicIPAddresses/join/action",
    "Microsoft.Network/virtualNetworks/read",
    "Microsoft.Network/virtualNetworks/write",
    "Microsoft.Network/virtualNetworks/delete",
    "Microsoft.Network/virtualNetworks/subnets/read",
    "Microsoft.Network/virtualNetworks/subnets/join/action",
    "Microsoft.Network/networkSecurityGroups/read",
    "Microsoft.Network/networkSecurityGroups/write",
    "Microsoft.Network/networkSecurityGroups/delete",
    "Microsoft.Network/networkSecurityGroups/join/action",
    "Microsoft.Network/loadBalancers/read",
    "Microsoft.Network/loadBalancers/write",
    "Microsoft.Network/loadBalancers/delete",
    "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
    "Microsoft.Network/loadBalancers/frontendIPConfigurations/join/action",
    "Microsoft.Network/privateLinkServices/read",
    "Microsoft.Network/privateLinkServices/write",
    "Microsoft.Network/privateLinkServices/delete",
    "Microsoft.Network/privateEndpoints/read",
    "Microsoft.Network/privateEndpoints/write",
    "Microsoft.Network/privateEndpoints/delete",
    "Microsoft.Storage/storageAccounts/read",
    "Microsoft.Storage/storageAccounts/write",
    "Microsoft.Storage/storageAccounts/delete",
    "Microsoft.Storage/storageAccounts/listKeys/action",
    "Microsoft.Storage/storageAccounts/blobServices/containers/read",
    "Microsoft.Storage/storageAccounts/blobServices/containers/write",
    "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
    "Microsoft.KeyVault/vaults/read",
    "Microsoft.KeyVault/vaults/write",
    "Microsoft.KeyVault/vaults/delete",
    "Microsoft.KeyVault/vaults/deploy/action",
    "Microsoft.KeyVault/vaults/secrets/read",
    "Microsoft.KeyVault/vaults/secrets/write",
] as const;

export const ROLE_ACTIONS: Record<AibRolePurpose, readonly string[]> = {
    image: AIB_IMAGE_ACTIONS,
    network: AIB_NETWORK_ACTIONS,
    staging: AIB_STAGING_ACTIONS,
};

const ROLE_LABELS: Record<AibRolePurpose, string> = {
    image: "gallery publisher",
    network: "network join",
    staging: "staging",
};

/** Where each custom role the build needs is assigned; network and staging roles exist only when configured. */
export type AibRoleScope =
    | { purpose: "image" }
    | { purpose: "network"; virtualNetworkId: string }
    | { purpose: "staging"; resourceGroupName: string };

/** The gallery role always; the network role on the build VNet and the staging role on the staging group when configured. */
export function aibRoleScopes(build: BuildConfig): AibRoleScope[] {
    const scopes: AibRoleScope[] = [{ purpose: "image" }];
    if (build.vnet) scopes.push({ purpose: "network", virtualNetworkId: virtualNetworkIdOf(build.vnet.subnetId) });
    if (build.stagingResourceGroupName) scopes.push({ purpose: "staging", resourceGroupName: build.stagingResourceGroupName });
    return scopes;
}

/** A name-based GUID (RFC 4122 layout, version 5 bits) from the SHA-256 of its parts. */
export function deterministicGuid(...parts: string[]): string {
    const h = createHash("sha256").update(parts.join("\n")).digest("hex");
    const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The virtual network that holds a subnet: `.../virtualNetworks/{vnet}/subnets/{subnet}` without the subnet. */
export function virtualNetworkIdOf(subnetId: string): string {
    const match = /^(.*\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+)\/subnets\/[^/]+$/i.exec(subnetId);
    if (!match) throw new Error(`not a subnet resource id: ${subnetId}`);
    return match[1];
}

/** The resource group an ARM id lives in: `/subscriptions/{s}/resourceGroups/{rg}`. */
export function resourceGroupIdOf(armId: string): string {
    const match = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+)(\/.*)?$/i.exec(armId);
    if (!match) throw new Error(`not a resource id inside a resource group: ${armId}`);
    return match[1];
}

export interface CustomRoleDefinition {
    /** GUID name of the role definition. */
    roleDefinitionId: string;
    /** Unique in the tenant (Azure requires it), readable in the portal. */
    roleName: string;
    description: string;
    /**
     * The resource group the role is defined in and assignable to. Custom roles cannot name a
     * single resource as assignable scope, so the network role is assignable in the VNet's group
     * and assigned on the VNet only.
     */
    scope: string;
    /** Where the identity is given the role. */
    assignmentScope: string;
    actions: string[];
}

/**
 * `perImage`: the role's GUID also derives from the image definition, so two images built in one
 * resource group get one role each instead of fighting over one (fleets). The single-image form
 * keeps the GUID it has always had, derived from purpose and scope only.
 */
export function customRoleDefinition(purpose: AibRolePurpose, assignmentScope: string, imageDefinitionName: string, perImage = false): CustomRoleDefinition {
    const scope = resourceGroupIdOf(assignmentScope);
    const parts = [purpose, assignmentScope.toLowerCase(), ...(perImage ? [imageDefinitionName.toLowerCase()] : [])];
    const roleDefinitionId = deterministicGuid("avd-image-rings/aib-role", ...parts);
    const scopeName = assignmentScope.split("/").pop() ?? assignmentScope;
    return {
        roleDefinitionId,
        roleName: `AVD Image Builder ${ROLE_LABELS[purpose]} (${scopeName}, ${roleDefinitionId.slice(0, 8)})`,
        description: `Least-privilege ${ROLE_LABELS[purpose]} role for the Azure Image Builder identity that builds ${imageDefinitionName} (avd-image-rings).`,
        scope,
        assignmentScope,
        actions: [...ROLE_ACTIONS[purpose]],
    };
}

/** Assignment names are GUIDs unique per scope, role and principal. */
export function roleAssignmentGuid(scope: string, roleDefinitionId: string, principalId: string): string {
    return deterministicGuid("avd-image-rings/aib-role-assignment", scope.toLowerCase(), roleDefinitionId, principalId);
}

/** User-assigned identity names: ^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$ (ManagedIdentity 2023-01-31). */
export function aibIdentityName(imageDefinitionName: string): string {
    return `id-aib-${imageDefinitionName.replace(/[^A-Za-z0-9_-]/g, "-")}`.slice(0, 120).replace(/[-_]+$/, "");
}
