// Host pool, desktop application group and workspace: what makes a ring a usable AVD environment.
import type * as pulumi from "@pulumi/pulumi";
import type { ApplicationGroupArgs, HostPoolArgs, WorkspaceArgs } from "@pulumi/azure-native/desktopvirtualization";
import type { DomainJoinConfig, RingConfig } from "../config/types";
import { sessionHostResourceNames, sessionHostTags } from "./naming";

/**
 * Clients on devices that are not Entra-joined can only reach Entra-joined hosts with this RDP
 * property (unless Entra single sign-on is set up).
 */
export const ENTRA_JOINED_RDP_PROPERTY = "targetisaadjoined:i:1;";

export function customRdpProperty(join: DomainJoinConfig): string | undefined {
    return join.type === "EntraID" ? ENTRA_JOINED_RDP_PROPERTY : undefined;
}

export function hostPoolArgs(ring: RingConfig, resourceGroupName: pulumi.Input<string>, registrationExpirationTime: string): HostPoolArgs {
    const hp = ring.sessionHosts.hostPool;
    const rdp = customRdpProperty(ring.sessionHosts.domainJoin);
    return {
        resourceGroupName,
        hostPoolName: sessionHostResourceNames(ring.stack).hostPool,
        location: ring.location,
        friendlyName: hp.friendlyName,
        description: `Session hosts of the ${ring.stack} ring (avd-image-rings)`,
        hostPoolType: "Pooled",
        loadBalancerType: hp.loadBalancerType,
        maxSessionLimit: hp.maxSessionLimit,
        preferredAppGroupType: "Desktop",
        validationEnvironment: hp.validationEnvironment,
        // Hosts are scale-set instances this program sizes; AVD must not start deallocated ones on its own.
        startVMOnConnect: false,
        registrationInfo: { expirationTime: registrationExpirationTime, registrationTokenOperation: "Update" },
        ...(rdp ? { customRdpProperty: rdp } : {}),
        tags: sessionHostTags(ring),
    };
}

export function applicationGroupArgs(ring: RingConfig, resourceGroupName: pulumi.Input<string>, hostPoolId: pulumi.Input<string>): ApplicationGroupArgs {
    return {
        resourceGroupName,
        applicationGroupName: sessionHostResourceNames(ring.stack).applicationGroup,
        location: ring.location,
        applicationGroupType: "Desktop",
        hostPoolArmPath: hostPoolId,
        friendlyName: ring.sessionHosts.hostPool.friendlyName,
        description: `Full desktop of the ${ring.stack} ring`,
        tags: sessionHostTags(ring),
    };
}

export function workspaceArgs(ring: RingConfig, resourceGroupName: pulumi.Input<string>, applicationGroupId: pulumi.Input<string>): WorkspaceArgs {
    return {
        resourceGroupName,
        workspaceName: sessionHostResourceNames(ring.stack).workspace,
        location: ring.location,
        friendlyName: ring.sessionHosts.hostPool.friendlyName,
        description: `Workspace of the ${ring.stack} ring`,
        applicationGroupReferences: [applicationGroupId],
        tags: sessionHostTags(ring),
    };
}
