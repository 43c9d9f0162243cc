// azure-native v3 resource type tokens the pack inspects. Property names used with them follow
// node_modules/@pulumi/azure-native/types/input.d.ts (checked by the pack's tests, whose
// fixtures are typed with the azure-native argument interfaces).

import type { ResourceValidation } from "@pulumi/policy";

export const VMSS = "azure-native:compute:VirtualMachineScaleSet";
export const VMSS_EXTENSION = "azure-native:compute:VirtualMachineScaleSetExtension";
export const VM = "azure-native:compute:VirtualMachine";
export const GALLERY_IMAGE_VERSION = "azure-native:compute:GalleryImageVersion";
export const IMAGE_TEMPLATE = "azure-native:virtualmachineimages:VirtualMachineImageTemplate";
export const ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment";
export const ROLE_DEFINITION = "azure-native:authorization:RoleDefinition";
export const USER_ASSIGNED_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity";

/**
 * Marks a validator as applying to one resource type, so @pulumi/policy skips every other type
 * before deserialising its properties (a large share of the pack's time on big stacks). It is the
 * marker validateResourceOfType sets from a resource class; this pack works from type tokens so it
 * does not depend on azure-native's classes.
 */
export function forType(type: string, validate: ResourceValidation): ResourceValidation {
    return Object.assign(validate, { __pulumiType: type });
}
