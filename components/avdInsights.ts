// AVD Insights for one ring: the Log Analytics workspace (an existing one, or one created here)
// and one diagnostic setting per host pool, application group and AVD workspace, with the
// categories Insights reads (src/monitoring/insights.ts).
import * as monitor from "@pulumi/azure-native/monitor";
import * as operationalinsights from "@pulumi/azure-native/operationalinsights";
import * as pulumi from "@pulumi/pulumi";
import type { InsightsConfig } from "../src/config/insights";
import { diagnosticSettingArgs, logAnalyticsWorkspaceArgs, type AvdResourceKind } from "../src/monitoring/insights";

export interface AvdInsightsArgs {
    /** Where a created workspace goes: the ring's resource group. Unused for an existing workspace. */
    resourceGroupName: pulumi.Input<string>;
    /** Region of a created workspace. */
    location: string;
    /** Tags of a created workspace (the ring's tags with `Ring`). */
    tags: Record<string, string>;
    /** The validated `insights` block: an existing workspace by id, or the one to create. */
    workspace: InsightsConfig;
    /** Host pool ARM ids by pool name (the key names the diagnostic setting's logical name). */
    hostPoolIds: Record<string, pulumi.Input<string>>;
    /** Application group ARM ids by pool name. Default: none. */
    applicationGroupIds?: Record<string, pulumi.Input<string>>;
    /** AVD workspace ARM ids by pool name. Default: none. */
    workspaceIds?: Record<string, pulumi.Input<string>>;
}

export class AvdInsights extends pulumi.ComponentResource {
    /** The Log Analytics workspace every diagnostic setting sends to. */
    readonly logAnalyticsWorkspaceId: pulumi.Output<string>;

    constructor(name: string, args: AvdInsightsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("avd-image-rings:rings:AvdInsights", name, {}, opts);
        const w = args.workspace;
        this.logAnalyticsWorkspaceId =
            w.kind === "existing"
                ? pulumi.output(w.workspaceId)
                : new operationalinsights.Workspace(`${name}-log-analytics`, logAnalyticsWorkspaceArgs(w, args.resourceGroupName, args.location, args.tags), { parent: this }).id;

        const targets: Array<[AvdResourceKind, string, Record<string, pulumi.Input<string>>]> = [
            ["hostPool", "hostpool", args.hostPoolIds],
            ["applicationGroup", "appgroup", args.applicationGroupIds ?? {}],
            ["workspace", "workspace", args.workspaceIds ?? {}],
        ];
        for (const [kind, suffix, ids] of targets) {
            for (const [key, id] of Object.entries(ids)) {
                new monitor.DiagnosticSetting(`${name}-${key}-${suffix}`, diagnosticSettingArgs(kind, id, this.logAnalyticsWorkspaceId), { parent: this });
            }
        }
        this.registerOutputs({ logAnalyticsWorkspaceId: this.logAnalyticsWorkspaceId });
    }
}
