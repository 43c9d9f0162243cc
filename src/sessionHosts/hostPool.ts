// Host pool, desktop application group and workspace: what makes a ring a usable AVD environment.
import type * as pulumi from "@pulumi/pulumi";
import type { ApplicationGroupArgs, HostPoolArgs, WorkspaceArgs } from "@pulumi/azure-native/desktopvirtualization";
import type { DomainJoinConfig, SessionHostsConfig } from "../config/types";
import { agentUpdateFromWindow } from "./agentUpdate";
import { poolDescription, type PoolPlacement } from "./naming";

/**
 * Clients on devices that are not Entra-joined can only reach Entra-joined hosts with this RDP
 * property (unless Entra single sign-on is set up).
 */
export const ENTRA_JOINED_RDP_PROPERTY = "targetisaadjoined:i:1;";

export function customRdpProperty(join: DomainJoinConfig): string | undefined {
    return join.type === "EntraID" ? ENTRA_JOINED_RDP_PROPERTY : undefined;
}

export function hostPoolArgs(
    p: PoolPlacement,
    hosts: Pick<SessionHostsConfig, "hostPool" | "domainJoin" | "rollout">,
    registrationExpirationTime: string,
): HostPoolArgs {
    const hp = hosts.hostPool;
    const rdp = customRdpProperty(hosts.domainJoin);
    return {
        resourceGroupName: p.resourceGroupName,
        hostPoolName: p.names.hostPool,
        location: p.location,
        friendlyName: hp.friendlyName,
        description: `Session hosts of ${poolDescription(p)} (avd-image-rings)`,
        hostPoolType: "Pooled",
        loadBalancerType: hp.loadBalancerType,
        maxSessionLimit: hp.maxSessionLimit,
        preferredAppGroupType: "Desktop",
        validationEnvironment: hp.validationEnvironment,
        // Hosts are scale-set instances this program sizes; AVD must not start deallocated ones on its own.
        startVMOnConnect: false,
        registrationInfo: { expirationTime: registrationExpirationTime, registrationTokenOperation: "Update" },
        ...(rdp ? { customRdpProperty: rdp } : {}),
        // sessionHosts.rollout.window.agentUpdate: AVD updates its agent in the rollout's window.
        ...(hosts.rollout.window?.agentUpdate ? { agentUpdate: agentUpdateFromWindow(hosts.rollout.window) } : {}),
        tags: p.tags,
    };
}

export function applicationGroupArgs(p: PoolPlacement, friendlyName: string, hostPoolId: pulumi.Input<string>): ApplicationGroupArgs {
    return {
        resourceGroupName: p.resourceGroupName,
        applicationGroupName: p.names.applicationGroup,
        location: p.location,
        applicationGroupType: "Desktop",
        hostPoolArmPath: hostPoolId,
        friendlyName,
        description: `Full desktop of ${poolDescription(p)}`,
        tags: p.tags,
    };
}

export function workspaceArgs(p: PoolPlacement, friendlyName: string, applicationGroupId: pulumi.Input<string>): WorkspaceArgs {
    return {
        resourceGroupName: p.resourceGroupName,
        workspaceName: p.names.workspace,
        location: p.location,
        friendlyName,
        description: `Workspace of ${poolDescription(p)}`,
        applicationGroupReferences: [applicationGroupId],
        tags: p.tags,
    };
}
