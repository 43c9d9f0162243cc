// The session-host extensions, in the order a new or reimaged host needs them:
//   1. directory join (Microsoft Entra ID or Active Directory),
//   2. AVD agent install + host-pool registration (needs the join: the host registers under its joined name),
//   3. Application Health (reports Healthy only once 1 and 2 have worked).
// provisionAfterExtensions enforces the order; Azure otherwise runs extensions in parallel.
import * as pulumi from "@pulumi/pulumi";
import type { DomainJoinConfig, HealthGateConfig } from "../config/types";
import { customScriptAgentRegistration, type AgentRegistration } from "./agentRegistration";
import { applicationHealthExtension } from "./healthProbe";

/** One entry of virtualMachineProfile.extensionProfile.extensions, in azure-native's shape. */
export interface ScaleSetExtension {
    name: string;
    publisher: string;
    type: string;
    typeHandlerVersion: string;
    autoUpgradeMinorVersion: boolean;
    settings?: Record<string, string | number | boolean>;
    /** Always a Pulumi secret. */
    protectedSettings?: pulumi.Output<Record<string, string>>;
    provisionAfterExtensions?: string[];
}

/** Intune's MDM application id: AADLoginForWindows enrolls the host in Intune when given it. */
export const INTUNE_MDM_ID = "0000000a-0000-0000-c000-000000000000";

export const ENTRA_JOIN_EXTENSION_NAME = "AADLoginForWindows";
export const AD_JOIN_EXTENSION_NAME = "DomainJoin";

/** JsonADDomainExtension's join options: join the domain (1) and create the computer account (2). */
const AD_JOIN_OPTIONS = "3";

/** The account JsonADDomainExtension joins with: `DOMAIN\user` unless already qualified. */
export function domainJoinUser(domainName: string, username: string): string {
    return /[\\@]/.test(username) ? username : `${domainName}\\${username}`;
}

export function domainJoinExtension(join: DomainJoinConfig): ScaleSetExtension {
    if (join.type === "EntraID") {
        return {
            name: ENTRA_JOIN_EXTENSION_NAME,
            publisher: "Microsoft.Azure.ActiveDirectory",
            type: "AADLoginForWindows",
            typeHandlerVersion: "2.0",
            autoUpgradeMinorVersion: true,
            // The extension expects mdmId to be present; empty means "join without Intune enrollment".
            settings: { mdmId: join.intuneEnroll ? INTUNE_MDM_ID : "" },
        };
    }
    return {
        name: AD_JOIN_EXTENSION_NAME,
        publisher: "Microsoft.Compute",
        type: "JsonADDomainExtension",
        typeHandlerVersion: "1.3",
        autoUpgradeMinorVersion: true,
        settings: {
            Name: join.domainName,
            OUPath: join.ouPath ?? "",
            User: domainJoinUser(join.domainName, join.username),
            Restart: "true",
            Options: AD_JOIN_OPTIONS,
        },
        protectedSettings: pulumi.secret(join.password.apply((password): Record<string, string> => ({ Password: password }))),
    };
}

/** Entra join authenticates the host with a system-assigned managed identity. */
export function needsSystemAssignedIdentity(join: DomainJoinConfig): boolean {
    return join.type === "EntraID";
}

export interface SessionHostExtensionInputs {
    domainJoin: DomainJoinConfig;
    healthGate: Pick<HealthGateConfig, "checkFslogix">;
    /** The host pool's registration token (a Pulumi secret). */
    registrationToken: pulumi.Input<string>;
    agentRegistration?: AgentRegistration;
}

export function sessionHostExtensions(inputs: SessionHostExtensionInputs): ScaleSetExtension[] {
    const agent = inputs.agentRegistration ?? customScriptAgentRegistration;
    const join = domainJoinExtension(inputs.domainJoin);
    const registration = agent.extension({
        registrationToken: inputs.registrationToken,
        joinType: inputs.domainJoin.type,
        checkFslogix: inputs.healthGate.checkFslogix,
        provisionAfterExtensions: [join.name],
    });
    return [join, registration, applicationHealthExtension([registration.name])];
}
