// Gallery retention for one image: the plan (which published versions go, computed here from the
// build's list of published versions and every ring's pins, so the preview shows it) and the
// command that deletes them after the build (tools/retention.ts), re-checking the live gallery.
import * as local from "@pulumi/command/local";
import * as pulumi from "@pulumi/pulumi";
import type { RetentionConfig } from "../src/config/retention";
import { selectRetention, type RetentionDecision, type RingPin } from "../src/lifecycle/retention";
import { parseRetentionResult, RETENTION_COMMAND, retentionEnvironment, type RetentionResult } from "../src/lifecycle/retentionCommand";
import { TOOL_COMMAND_SETTINGS } from "../src/tools/commandSettings";
import { stackProviderCredentials, withProviderCredentials } from "../src/tools/providerCredentials";

export interface GalleryRetentionArgs {
    imageDefinitionId: pulumi.Input<string>;
    /** The build's published versions (GoldenImageBuild.publishedImageVersions): known once the build ran. */
    publishedImageVersions: pulumi.Input<string[]>;
    retention: RetentionConfig;
    /** What every ring pins and validated of this image: this ring's own pins and the protect stacks' (src/lifecycle/protectedRings.ts). */
    pins: RingPin[];
}

/** The plan in words, as the command's trigger shows it in previews (never secret, unlike an environment with credentials). */
export function planSummary(plan: RetentionDecision): string {
    return `retention plan: delete ${plan.delete.length ? plan.delete.join(", ") : "nothing"}`;
}

export class GalleryRetention extends pulumi.ComponentResource {
    /** The dry run: what retention deletes, oldest first, and why each other version stays. */
    readonly plan: pulumi.Output<RetentionDecision>;
    readonly plannedDeletions: pulumi.Output<string[]>;
    /** The tool's report: deleted, skipped (with reasons) and failed (with Azure's error) versions. */
    readonly result: pulumi.Output<RetentionResult>;

    /** Pass the build (its command) as `dependsOn` in `opts`, so retention runs after the version is published. */
    constructor(name: string, args: GalleryRetentionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("avd-image-rings:image:GalleryRetention", name, {}, opts);
        // The build's list holds only Succeeded versions and no end-of-life dates: the tool checks those live.
        this.plan = pulumi.output(args.publishedImageVersions).apply((published) =>
            selectRetention(published.map((v) => ({ name: v, provisioningState: "Succeeded" })), { keep: args.retention.keep, pins: args.pins, now: 0 }),
        );
        this.plannedDeletions = this.plan.apply((p) => p.delete);
        const environment = pulumi.all([args.imageDefinitionId, this.plannedDeletions]).apply(([imageDefinitionId, plannedDeletions]) =>
            retentionEnvironment(args.retention, { imageDefinitionId, plannedDeletions, pins: args.pins }),
        );
        const run = new local.Command(
            `${name}-delete-old-versions`,
            {
                create: RETENTION_COMMAND,
                ...TOOL_COMMAND_SETTINGS,
                environment: withProviderCredentials(environment, stackProviderCredentials()),
                // The environment re-runs it when the plan, pins or settings change; the plan is repeated
                // here in words because a trigger stays readable in a preview where the environment is secret.
                triggers: [args.imageDefinitionId, this.plan.apply(planSummary)],
            },
            { parent: this, dependsOn: opts?.dependsOn },
        );
        this.result = run.stdout.apply(parseRetentionResult);
        this.registerOutputs({ plan: this.plan, plannedDeletions: this.plannedDeletions, result: this.result });
    }
}
