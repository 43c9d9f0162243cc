// The session-host extensions, in the order a new or reimaged host needs them:
//   1. directory join (Microsoft Entra ID or Active Directory),
//   2. on GPU pools whose image has no driver baked in, the vendor's GPU driver extension (it may
//      restart the VM, so it runs after the join's restart and before the agent: a host registers,
//      and takes users, only once it renders on its GPU),
//   3. AVD agent install + host-pool registration (needs the join: the host registers under its joined name),
//   4. Application Health (reports Healthy only once the steps before it have worked).
// provisionAfterExtensions enforces the order; Azure otherwise runs extensions in parallel.
import * as pulumi from "@pulumi/pulumi";
import type { GpuConfig } from "../config/gpu";
import type { DomainJoinConfig, HealthGateConfig } from "../config/types";
import { customScriptAgentRegistration, type AgentRegistration } from "./agentRegistration";
import { gpuDriverExtensionSpec } from "./gpu";
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
    /** GPU pools only (sessionHosts.gpu). */
    gpu?: GpuConfig;
}

/** The GPU driver extension a pool's hosts need: none without a GPU or with the driver in the image. */
export function gpuDriverExtension(gpu: GpuConfig | undefined, after: string): ScaleSetExtension | undefined {
    if (gpu?.install !== "extension") return undefined;
    // autoUpgradeMinorVersion as Microsoft's schema shows it; the extension never updates an installed
    // driver on its own (hpccompute-gpu-windows), a reimage installs it afresh.
    return { ...gpuDriverExtensionSpec(gpu.vendor, gpu.driverVersion), autoUpgradeMinorVersion: true, provisionAfterExtensions: [after] };
}

export function sessionHostExtensions(inputs: SessionHostExtensionInputs): ScaleSetExtension[] {
    const agent = inputs.agentRegistration ?? customScriptAgentRegistration;
    const join = domainJoinExtension(inputs.domainJoin);
    const driver = gpuDriverExtension(inputs.gpu, join.name);
    const registration = agent.extension({
        registrationToken: inputs.registrationToken,
        joinType: inputs.domainJoin.type,
        checkFslogix: inputs.healthGate.checkFslogix,
        provisionAfterExtensions: [(driver ?? join).name],
    });
    return [join, ...(driver ? [driver] : []), registration, applicationHealthExtension([registration.name])];
}
