// AVD Insights: which diagnostics each Azure Virtual Desktop resource sends to Log Analytics, and
// the workspace the program creates when asked. Categories per Microsoft's "Use Azure Virtual
// Desktop Insights to monitor your deployment" (Resource diagnostic settings: host pool and
// workspace tables) and "Send Azure Virtual Desktop diagnostics to Log Analytics" (application
// groups: Checkpoint, Error, Management).
import type * as monitor from "@pulumi/azure-native/monitor";
import type * as operationalinsights from "@pulumi/azure-native/operationalinsights";
import type * as pulumi from "@pulumi/pulumi";
import type { InsightsConfig } from "../config/insights";

export type AvdResourceKind = "hostPool" | "applicationGroup" | "workspace";

/** The log categories AVD Insights reads, per resource kind. */
export const INSIGHTS_LOG_CATEGORIES: Record<AvdResourceKind, readonly string[]> = {
    hostPool: ["Checkpoint", "Error", "Management", "Connection", "HostRegistration", "AgentHealthStatus"],
    applicationGroup: ["Checkpoint", "Error", "Management"],
    workspace: ["Checkpoint", "Error", "Management", "Feed"],
};

/**
 * The diagnostic setting's name on each resource. Azure allows five settings per resource and
 * refuses a second one that sends a category to the same workspace, so the program keeps one.
 */
export const INSIGHTS_DIAGNOSTIC_SETTING_NAME = "avd-insights";

/** One resource's diagnostic setting: every category Insights needs, to the workspace. */
export function diagnosticSettingArgs(kind: AvdResourceKind, resourceUri: pulumi.Input<string>, workspaceId: pulumi.Input<string>): monitor.DiagnosticSettingArgs {
    return {
        name: INSIGHTS_DIAGNOSTIC_SETTING_NAME,
        resourceUri,
        workspaceId,
        logs: INSIGHTS_LOG_CATEGORIES[kind].map((category) => ({ category, enabled: true })),
    };
}

/** The Log Analytics workspace the program creates (`insights.create`): pay-as-you-go, the ring's tags. */
export function logAnalyticsWorkspaceArgs(
    create: Extract<InsightsConfig, { kind: "create" }>,
    resourceGroupName: pulumi.Input<string>,
    location: string,
    tags: Record<string, string>,
): operationalinsights.WorkspaceArgs {
    return {
        workspaceName: create.name,
        resourceGroupName,
        location,
        // PerGB2018 is the pay-as-you-go tier Microsoft recommends to start AVD Insights with.
        sku: { name: "PerGB2018" },
        retentionInDays: create.retentionDays,
        tags,
    };
}
