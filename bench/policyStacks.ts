// Synthetic stacks for the policy throughput benchmark: a repeating block of ten resources in
// azure-native v3 input shapes (typed with azure-native's argument interfaces through the
// policy test fixtures): three session-host scale sets (Manual and Rolling), two host pools,
// one Image Builder identity, one custom role for it, two role assignments and one image
// template. Identities carry outputs (id, principalId) and assignments and templates carry
// property dependencies on them, as the CLI sends them, so the stack policies that join
// resources do the work they would do in a real preview.
import type { HostPoolArgs } from "@pulumi/azure-native/desktopvirtualization";
import type { Unwrap } from "@pulumi/pulumi";
import type { PolicyInputResource } from "../preview/policyRunner";
import * as f from "../tests/fixtures/policy/resources";

/** The stack whose policy configuration (policy/config/test.json) enables every policy of the pack. */
export const SYNTHETIC_STACK = "test";

const BLOCK = ["vmss-manual", "vmss-rolling", "vmss-manual-zonal", "host-pool", "host-pool-personal", "identity", "role-definition", "assignment-custom", "assignment-reader", "image-template"] as const;
type Kind = (typeof BLOCK)[number];

function guid(n: number, salt: number): string {
    const hex = (n * 7919 + salt).toString(16).padStart(12, "0").slice(-12);
    return `${salt.toString(16).padStart(8, "0")}-0000-4000-a000-${hex}`;
}

function hostPoolInputs(name: string, personal: boolean): Unwrap<HostPoolArgs> {
    return {
        resourceGroupName: f.RG,
        hostPoolName: name,
        location: "westeurope",
        hostPoolType: personal ? "Personal" : "Pooled",
        personalDesktopAssignmentType: personal ? "Automatic" : undefined,
        loadBalancerType: personal ? "Persistent" : "BreadthFirst",
        preferredAppGroupType: "Desktop",
        maxSessionLimit: personal ? undefined : 12,
        validationEnvironment: false,
        startVMOnConnect: true,
        customRdpProperty: "drivestoredirect:s:;audiomode:i:0;videoplaybackmode:i:1;redirectclipboard:i:1",
    };
}

/** Resource `i` of a synthetic stack; `block` is i / 10, naming the block's identity and role. */
function synthetic(i: number): PolicyInputResource {
    const block = Math.floor(i / BLOCK.length);
    const kind: Kind = BLOCK[i % BLOCK.length];
    const identityName = `id-aib-${block}`;
    const identityUrn = `urn:pulumi:${SYNTHETIC_STACK}::${f.PROJECT}::azure-native:managedidentity:UserAssignedIdentity::${identityName}`;
    const identityId = `${f.SUB}/resourceGroups/${f.RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${identityName}`;
    const principalId = guid(block, 1);
    const roleGuid = guid(block, 2);
    const roleUrn = `urn:pulumi:${SYNTHETIC_STACK}::${f.PROJECT}::azure-native:authorization:RoleDefinition::role-aib-${block}`;
    switch (kind) {
        case "vmss-manual":
        case "vmss-manual-zonal": {
            const v = f.vmssInputs();
            v.vmScaleSetName = `vmss-${kind}-${block}`;
            if (kind === "vmss-manual-zonal") v.zones = ["1", "2", "3"];
            return f.resource(SYNTHETIC_STACK, "azure-native:compute:VirtualMachineScaleSet", `${kind}-${block}`, v);
        }
        case "vmss-rolling": {
            const v = f.rollingVmssInputs();
            v.vmScaleSetName = `vmss-rolling-${block}`;
            return f.resource(SYNTHETIC_STACK, "azure-native:compute:VirtualMachineScaleSet", `vmss-rolling-${block}`, v);
        }
        case "host-pool":
        case "host-pool-personal":
            return f.resource(SYNTHETIC_STACK, "azure-native:desktopvirtualization:HostPool", `${kind}-${block}`, hostPoolInputs(`vdpool-${kind}-${block}`, kind === "host-pool-personal"));
        case "identity": {
            const inputs = f.identityInputs(identityName);
            return f.resource(SYNTHETIC_STACK, "azure-native:managedidentity:UserAssignedIdentity", identityName, inputs, {
                outputs: { ...inputs, id: identityId, principalId, clientId: guid(block, 3), tenantId: "72f988bf-0000-4000-a000-000000000000" },
            });
        }
        case "role-definition":
            return f.resource(
                SYNTHETIC_STACK,
                "azure-native:authorization:RoleDefinition",
                `role-aib-${block}`,
                f.roleDefinitionInputs(roleGuid, ["Microsoft.Compute/galleries/read", "Microsoft.Compute/galleries/images/read", "Microsoft.Compute/galleries/images/versions/*", "Microsoft.Compute/images/*"]),
            );
        case "assignment-custom":
            return f.resource(SYNTHETIC_STACK, "azure-native:authorization:RoleAssignment", `ra-aib-custom-${block}`, f.roleAssignmentInputs(principalId, roleGuid), {
                propertyDependencies: { principalId: [identityUrn], roleDefinitionId: [roleUrn] },
                dependencies: [identityUrn, roleUrn],
            });
        case "assignment-reader":
            return f.resource(SYNTHETIC_STACK, "azure-native:authorization:RoleAssignment", `ra-aib-reader-${block}`, f.roleAssignmentInputs(principalId, f.ROLE.reader), {
                propertyDependencies: { principalId: [identityUrn] },
                dependencies: [identityUrn],
            });
        case "image-template": {
            const t = f.templateInputs();
            t.imageTemplateName = `it-avd-${block}`;
            t.identity = { type: "UserAssigned", userAssignedIdentities: [identityId] };
            return f.resource(SYNTHETIC_STACK, "azure-native:virtualmachineimages:VirtualMachineImageTemplate", `it-avd-${block}`, t, {
                propertyDependencies: { identity: [identityUrn] },
                dependencies: [identityUrn],
            });
        }
    }
}

/** A stack of exactly `size` resources: the stack itself and size - 1 synthetic ones. */
export function syntheticStack(size: number): PolicyInputResource[] {
    return [f.stackResource(SYNTHETIC_STACK), ...Array.from({ length: Math.max(0, size - 1) }, (_, i) => synthetic(i))];
}

/** Resources per type, for the report. */
export function typeMix(resources: readonly PolicyInputResource[]): Record<string, number> {
    const mix: Record<string, number> = {};
    for (const r of resources) mix[r.type] = (mix[r.type] ?? 0) + 1;
    return mix;
}
