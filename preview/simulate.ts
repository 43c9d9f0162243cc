// What Azure would answer for each resource and invoke, offline: realistic ARM IDs and the
// computed properties the program reads (principal ids, tokens, command output). Unknown
// invokes fail loudly rather than resolving to nothing.
import { createHash } from "node:crypto";
import type { MockCallArgs, MockResourceArgs, MockResourceResult } from "@pulumi/pulumi/runtime/mocks";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";

export interface SimulationContext {
    subscriptionId: string;
    tenantId: string;
    /** Outputs of another stack, by fully-qualified name; undefined when it is not known. */
    stackOutputs(name: string): Record<string, unknown> | undefined;
    /** What a `command:local:Command` would print on stdout when it runs. */
    commandStdout(args: MockResourceArgs): string;
    /** The host pool's registration token has expired: Azure returns none until it is renewed. */
    expiredRegistrationToken?: boolean;
}

/** A value the engine treats as a Pulumi secret, as a provider returns one. */
function secret(value: string): Record<string, string> {
    return { [specialSigKey]: specialSecretSig, value };
}

/** A stable GUID derived from text, so previews are identical run to run. */
export function stableGuid(text: string): string {
    const h = createHash("sha256").update(text).digest("hex");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

interface ArmShape {
    /** ARM provider path below the resource group, with {input} placeholders. */
    path: string;
    /** Input naming the resource; defaults to the logical name when absent. */
    nameInput: string;
}

const ARM_SHAPES: Record<string, ArmShape> = {
    "azure-native:resources:ResourceGroup": { path: "", nameInput: "resourceGroupName" },
    "azure-native:compute:Gallery": { path: "Microsoft.Compute/galleries/{galleryName}", nameInput: "galleryName" },
    "azure-native:compute:GalleryImage": { path: "Microsoft.Compute/galleries/{galleryName}/images/{galleryImageName}", nameInput: "galleryImageName" },
    "azure-native:compute:VirtualMachineScaleSet": { path: "Microsoft.Compute/virtualMachineScaleSets/{vmScaleSetName}", nameInput: "vmScaleSetName" },
    "azure-native:virtualmachineimages:VirtualMachineImageTemplate": {
        path: "Microsoft.VirtualMachineImages/imageTemplates/{imageTemplateName}",
        nameInput: "imageTemplateName",
    },
    "azure-native:managedidentity:UserAssignedIdentity": {
        path: "Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}",
        nameInput: "resourceName",
    },
    "azure-native:desktopvirtualization:HostPool": { path: "Microsoft.DesktopVirtualization/hostPools/{hostPoolName}", nameInput: "hostPoolName" },
    "azure-native:desktopvirtualization:ApplicationGroup": {
        path: "Microsoft.DesktopVirtualization/applicationGroups/{applicationGroupName}",
        nameInput: "applicationGroupName",
    },
    "azure-native:desktopvirtualization:Workspace": { path: "Microsoft.DesktopVirtualization/workspaces/{workspaceName}", nameInput: "workspaceName" },
    "azure-native:operationalinsights:Workspace": { path: "Microsoft.OperationalInsights/workspaces/{workspaceName}", nameInput: "workspaceName" },
    // An extension resource: resourceId() places it below the resource it configures.
    "azure-native:monitor:DiagnosticSetting": { path: "", nameInput: "name" },
};

function fill(template: string, inputs: Record<string, unknown>, fallbackName: string, nameInput: string): string {
    return template.replace(/\{(\w+)\}/g, (_, key: string) => String(inputs[key] ?? (key === nameInput ? fallbackName : `{${key}}`)));
}

function resourceId(args: MockResourceArgs, ctx: SimulationContext): string {
    const inputs = (args.inputs ?? {}) as Record<string, unknown>;
    const sub = `/subscriptions/${ctx.subscriptionId}`;
    switch (args.type) {
        case "azure-native:resources:ResourceGroup":
            return `${sub}/resourceGroups/${String(inputs.resourceGroupName ?? args.name)}`;
        case "azure-native:authorization:RoleDefinition":
            return `${String(inputs.scope)}/providers/Microsoft.Authorization/roleDefinitions/${String(inputs.roleDefinitionId ?? stableGuid(args.name))}`;
        case "azure-native:monitor:DiagnosticSetting":
            return `${String(inputs.resourceUri)}/providers/Microsoft.Insights/diagnosticSettings/${String(inputs.name ?? args.name)}`;
        case "azure-native:authorization:RoleAssignment":
            return `${String(inputs.scope)}/providers/Microsoft.Authorization/roleAssignments/${String(inputs.roleAssignmentName ?? stableGuid(args.name))}`;
    }
    const shape = ARM_SHAPES[args.type];
    if (shape?.path) {
        return `${sub}/resourceGroups/${String(inputs.resourceGroupName)}/providers/${fill(shape.path, inputs, args.name, shape.nameInput)}`;
    }
    // Components, providers and non-Azure resources get a plain id.
    return `${args.name}-id`;
}

/** Properties Azure computes that the program reads back. */
function computed(args: MockResourceArgs, id: string, ctx: SimulationContext): Record<string, unknown> {
    const inputs = (args.inputs ?? {}) as Record<string, unknown>;
    switch (args.type) {
        case "azure-native:managedidentity:UserAssignedIdentity":
            return { principalId: stableGuid(`${id}/principal`), clientId: stableGuid(`${id}/client`), tenantId: ctx.tenantId };
        case "azure-native:compute:VirtualMachineScaleSet":
            return { uniqueId: stableGuid(`${id}/unique`) };
        case "azure-native:desktopvirtualization:HostPool":
            return { objectId: stableGuid(`${id}/object`) };
        case "random:index/randomPassword:RandomPassword":
            // Never a usable password: offline evaluation must not mint credentials. Secret, as the
            // provider marks it, so it is masked wherever the plan shows outputs.
            return { result: secret("offline-preview-not-a-password"), bcryptHash: secret("offline-preview") };
        case "command:local:Command":
            return { stdout: ctx.commandStdout(args), stderr: "" };
        case "pulumi:pulumi:StackReference": {
            const name = String(inputs.name);
            const outputs = ctx.stackOutputs(name);
            if (!outputs) throw new Error(`stack reference "${name}" cannot be resolved offline: no such stack in this repository`);
            return { name, outputs, secretOutputNames: [] };
        }
    }
    return {};
}

export function simulateResource(args: MockResourceArgs, ctx: SimulationContext): MockResourceResult {
    const id = args.type === "pulumi:pulumi:StackReference" ? String((args.inputs as Record<string, unknown>).name) : resourceId(args, ctx);
    const name = ARM_SHAPES[args.type] ? fill(`{${ARM_SHAPES[args.type].nameInput}}`, args.inputs ?? {}, args.name, ARM_SHAPES[args.type].nameInput) : args.name;
    const state: Record<string, unknown> = { ...(args.inputs ?? {}), ...computed(args, id, ctx) };
    if (args.type.startsWith("azure-native:")) {
        state.name = name;
    }
    return { id, state };
}

export function simulateCall(args: MockCallArgs, ctx: SimulationContext): Record<string, unknown> {
    switch (args.token) {
        case "azure-native:authorization:getClientConfig":
            return {
                subscriptionId: ctx.subscriptionId,
                tenantId: ctx.tenantId,
                clientId: stableGuid("offline-client"),
                objectId: stableGuid("offline-object"),
            };
        // azure-native v3 exposes POST retrieveRegistrationToken as getHostPoolRegistrationToken.
        case "azure-native:desktopvirtualization:getHostPoolRegistrationToken":
        case "azure-native:desktopvirtualization:retrieveHostPoolRegistrationToken":
        case "azure-native:desktopvirtualization:listHostPoolRegistrationTokens": {
            const token = ctx.expiredRegistrationToken ? "" : "offline-preview-registration-token";
            const expirationTime = "2026-12-18T00:00:00Z";
            return args.token.endsWith("listHostPoolRegistrationTokens")
                ? { value: [{ token, expirationTime, registrationTokenOperation: "Update" }] }
                : { token, expirationTime, registrationTokenOperation: "Update" };
        }
    }
    throw new Error(`offline preview has no simulation for the invoke ${args.token}; add it to preview/simulate.ts`);
}
