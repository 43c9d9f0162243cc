// Build trigger: runs the Azure Image Builder template once and waits for the gallery
// image version it publishes. Run by the golden-image component's command resource as
// `node_modules/.bin/tsx tools/buildImage.ts`, or by hand (see docs/build-trigger.md).
//
// Inputs (environment): AVD_IMAGE_TEMPLATE_ID, AVD_GALLERY_IMAGE_VERSION_ID, AVD_CONTENT_HASH,
// AVD_BUILD_TIMEOUT_MINUTES, optional AVD_POLL_SECONDS (default 60); ARM endpoint and
// credentials as in tools/azure/credentials.ts. Progress goes to stderr; on success the last
// line of stdout is one JSON object (BuildResult), with the version's release notes (the summary
// is also tagged on the version: tools/build/releaseNotes.ts). Exit 0 = published, 1 = failed.
import { AnonymousCredential, ContainerClient, newPipeline, Pipeline, RestError, type RequestPolicyFactory } from "@azure/storage-blob";
import type { BuildResult } from "../src/aib/buildResult";
import { galleryImageVersionShowCommand, imageBuilderCancelCommand } from "../src/aib/commands";
import { ArmClient, ArmError, type LroPoller } from "./azure/arm";
import { collectReleaseNotes, publishedWithTags } from "./build/releaseNotes";
import { describeFailure as describeToolFailure, GALLERY_VERSION_PATTERN, Progress, runAsScript, StopRequested, ToolFailure, type Io, type ToolOptions } from "./shared/tool";
import { formatDuration, systemClock } from "./azure/clock";
import { STORAGE_SCOPE } from "./azure/credentials";
import { parseTypedResourceId, parentId, ResourceIdError, sameResourceId, type ResourceId } from "./azure/ids";
import { getCaseInsensitive, isRecord, optionalArray, optionalRecord, optionalString, stringMap } from "./azure/json";
import { AVD_ENV as V, EnvironmentReader, LIMITS } from "../src/tools/environment";
import { Notifier, type NotifyOptions } from "./shared/notify";
import { GALLERY_API_VERSION } from "./shared/gallery";

// Hand-written: @azure/arm-imagebuilder 5.0.0 sends 2025-10-01, not the template's 2024-02-01.
export const IMAGE_BUILDER_API_VERSION = "2024-02-01";
export { GALLERY_API_VERSION };
// Hand-written: one call (listAccountSas) on the staging account AIB creates; the log itself is read with @azure/storage-blob.
export const STORAGE_API_VERSION = "2023-05-01";
/** Extra time past the template's build timeout before the trigger gives up and cancels. */
export const GRACE_MINUTES = 15;
/** AIB's own default when buildTimeoutInMinutes is 0. */
const AIB_DEFAULT_TIMEOUT_MINUTES = 240;
export const LOG_TAIL_LINES = 40;
/** Bytes read from the end of customization.log; the tail never needs more. */
const LOG_TAIL_BYTES = 256 * 1024;
/**
 * Bytes read from the end of customization.log for the inventory, which is the last step: Packer's
 * output after it (restart, sysprep, capture) is far smaller, and a whole Windows Update log can
 * run to many megabytes.
 */
const INVENTORY_LOG_BYTES = 16 * 1024 * 1024;
const CONTENT_HASH_TAG = "ContentHash";

export type { BuildResult };
export type { Io };

export interface MainOptions extends ToolOptions {
    graceMinutes?: number;
    /** How long to wait for a cancel to take effect after a timeout. */
    cancelWaitMinutes?: number;
    notify?: NotifyOptions;
}

export interface BuildInputs {
    templateId: ResourceId;
    versionId: ResourceId;
    version: string;
    contentHash: string;
    timeoutMinutes: number;
    pollMs: number;
}

/** The build trigger's AVD_* inputs, read by the contract the config compiles against (src/tools/environment.ts). */
export function readInputs(env: NodeJS.ProcessEnv): BuildInputs {
    const r = new EnvironmentReader(env, (message) => new ToolFailure(message));
    const templateRaw = r.required(V.imageTemplateId, "the ARM id of the image template (/subscriptions/.../providers/Microsoft.VirtualMachineImages/imageTemplates/<name>)");
    const versionRaw = r.required(V.galleryImageVersionId, "the ARM id of the gallery image version to publish (.../galleries/<g>/images/<def>/versions/<X.Y.Z>)");
    const contentHash = r.required(V.contentHash, "the SHA-256 of the image content (64 hex digits)").toLowerCase();
    const timeout = LIMITS.buildTimeoutMinutes;
    r.required(V.buildTimeoutMinutes, `the template's buildTimeoutInMinutes (${timeout.min}-${timeout.max}; 0 = Image Builder's 4-hour default)`);
    let templateId: ResourceId;
    let versionId: ResourceId;
    try {
        templateId = parseTypedResourceId(templateRaw, "Microsoft.VirtualMachineImages/imageTemplates", V.imageTemplateId.name);
        versionId = parseTypedResourceId(versionRaw, "Microsoft.Compute/galleries/images/versions", V.galleryImageVersionId.name);
    } catch (e) {
        if (e instanceof ResourceIdError) throw new ToolFailure(`${e.message}.`);
        throw e;
    }
    const version = versionId.name;
    if (!GALLERY_VERSION_PATTERN.test(version)) {
        throw new ToolFailure(`${V.galleryImageVersionId.name} ends in "${version}", which is not a MAJOR.MINOR.PATCH gallery image version.`);
    }
    if (!/^[0-9a-f]{64}$/.test(contentHash)) throw new ToolFailure(`${V.contentHash.name} must be a SHA-256 as 64 hex digits, got "${contentHash}".`);
    const timeoutMinutes = r.integer(V.buildTimeoutMinutes);
    return {
        templateId,
        versionId,
        version,
        contentHash,
        timeoutMinutes: timeoutMinutes === 0 ? AIB_DEFAULT_TIMEOUT_MINUTES : timeoutMinutes,
        pollMs: r.seconds(V.pollSeconds, 60),
    };
}

interface RunStatus {
    runState?: string;
    runSubState?: string;
    message?: string;
    startTime?: string;
}

interface TemplateView {
    provisioningState?: string;
    lastRun: RunStatus;
    provisioningError?: { code?: string; message?: string };
    stagingResourceGroup?: string;
}

function viewTemplate(body: unknown): TemplateView {
    const pe = optionalRecord(body, "properties.provisioningError");
    return {
        provisioningState: optionalString(body, "properties.provisioningState"),
        lastRun: {
            runState: optionalString(body, "properties.lastRunStatus.runState"),
            runSubState: optionalString(body, "properties.lastRunStatus.runSubState"),
            message: optionalString(body, "properties.lastRunStatus.message"),
            startTime: optionalString(body, "properties.lastRunStatus.startTime"),
        },
        provisioningError: pe ? { code: optionalString(pe, "provisioningErrorCode"), message: optionalString(pe, "message") } : undefined,
        stagingResourceGroup: optionalString(body, "properties.exactStagingResourceGroup") ?? optionalString(body, "properties.stagingResourceGroup"),
    };
}

const RUNNING_STATES = new Set(["running", "canceling"]);

function isRunning(state: string | undefined): boolean {
    return state !== undefined && RUNNING_STATES.has(state.toLowerCase());
}

/** What each sub-state means for the user (seed: "Build Status States"). */
const SUB_STATE_TEXT: Record<string, string> = {
    queued: "waiting for Image Builder to start the build",
    building: "creating the temporary build VM",
    customizing: "running customizations: Windows Update, scripts, packages (typically 30-60 min)",
    optimizing: "optimizing the image",
    validating: "validating the image",
    distributing: "sysprep, generalizing and publishing to the gallery (typically 10-20 min)",
};

interface VersionView {
    provisioningState?: string;
    contentHash?: string;
    replication?: string;
    replicationState?: string;
}

function viewVersion(body: unknown): VersionView {
    const summary = optionalArray(body, "properties.replicationStatus.summary") ?? [];
    const regions = summary.filter(isRecord).map((r) => `${optionalString(r, "region") ?? "?"} ${typeof r.progress === "number" ? `${r.progress}%` : (optionalString(r, "state") ?? "")}`.trim());
    return {
        provisioningState: optionalString(body, "properties.provisioningState"),
        contentHash: getCaseInsensitive(stringMap(body, "tags"), CONTENT_HASH_TAG),
        replication: regions.length ? regions.join(", ") : undefined,
        replicationState: optionalString(body, "properties.replicationStatus.aggregatedState"),
    };
}

export class BuildTrigger {
    private readonly progress: Progress;
    private readonly templatePath: string;
    private readonly versionPath: string;

    constructor(
        private readonly arm: ArmClient,
        private readonly inputs: BuildInputs,
        io: Io,
        private readonly options: { graceMinutes: number; cancelWaitMinutes: number; stack?: string },
    ) {
        this.progress = new Progress(io, arm.clock);
        this.templatePath = inputs.templateId.id;
        this.versionPath = inputs.versionId.id;
    }

    async run(): Promise<BuildResult> {
        const { version } = this.inputs;
        const template = await this.checkTemplate();
        const existing = await this.getVersion();
        let attach = template.lastRun.runState?.toLowerCase() === "running";

        if (existing) {
            const state = existing.provisioningState ?? "Unknown";
            if (/^succeeded$/i.test(state)) {
                if (existing.contentHash?.toLowerCase() === this.inputs.contentHash) {
                    this.progress.line(`image version ${version} is already published with this content (ContentHash ${short(this.inputs.contentHash)}); nothing to build`);
                    return this.result("Succeeded", true);
                }
                const found = existing.contentHash ? `ContentHash ${short(existing.contentHash)}` : "no ContentHash tag";
                throw new ToolFailure(
                    `image version ${version} is already published with different content; bump avd-image-rings:imageVersion (PATCH for a small fix) in Pulumi.${this.options.stack ?? "<stack>"}.yaml. ` +
                        `The published version carries ${found}, this deployment's content is ${short(this.inputs.contentHash)}; ` +
                        `published versions are never overwritten, so hosts running ${version} keep exactly the image they were validated with.`,
                );
            }
            if (/^failed$/i.test(state)) {
                this.progress.line(`image version ${version} exists in state Failed (a failed earlier build); deleting it before building`);
                // Gallery version delete has no final-state-via (Compute sends both headers); bounded by the build timeout.
                const timeoutMs = this.inputs.timeoutMinutes * 60_000;
                await this.arm.lro("DELETE", this.versionPath, { apiVersion: GALLERY_API_VERSION, pollIntervalMs: this.inputs.pollMs, timeoutMs, deadline: this.arm.clock.now() + timeoutMs });
                this.progress.line(`deleted the failed image version ${version}`);
            } else if (/^deleting$/i.test(state)) {
                this.progress.line(`image version ${version} is being deleted; waiting for that to finish`);
                await this.waitForVersionGone();
            } else if (!attach) {
                throw new ToolFailure(
                    `image version ${version} is in state ${state} but no build of the template is running, so another operation is changing it; wait for it to finish (${galleryImageVersionShowCommand({ resourceGroupName: this.inputs.versionId.resourceGroupName, galleryName: this.inputs.versionId.types[0].name, imageDefinitionName: this.inputs.versionId.types[1].name, version })}) and run the deployment again.`,
                );
            }
        }

        if (template.lastRun.runState?.toLowerCase() === "canceling") {
            this.progress.line("a cancelled build of this template is still stopping; waiting for it");
            await this.waitWhileCanceling();
            attach = false;
        }

        let operation: LroPoller | undefined;
        if (attach) {
            this.progress.line(`a build of this template is already running (started ${template.lastRun.startTime ?? "earlier"}); following it instead of starting another`);
        } else {
            this.arm.throwIfStopped("the image build to start");
            operation = await this.startRun(template.lastRun.startTime);
        }
        this.runInProgress = true;
        return this.monitor(operation);
    }

    /** True once a run was started or attached to: a stop then leaves it to Image Builder. */
    runInProgress = false;

    /** What a stop (SIGINT/SIGTERM) leaves behind, for the user. */
    stopNote(): string[] {
        const t = this.inputs.templateId;
        if (!this.runInProgress) return [`No image build was started for version ${this.inputs.version}; the next pulumi up starts it.`];
        return [
            `The Image Builder run of template ${t.name} (resource group ${t.resourceGroupName}) keeps running in Azure; it was not cancelled, so the build time already spent is not lost.`,
            `Watch it: az image builder show --name ${t.name} --resource-group ${t.resourceGroupName} --query properties.lastRunStatus`,
            `The next pulumi up finds the running build and follows it (or reuses version ${this.inputs.version} if it has been published) instead of starting a second one.`,
            `To stop it instead: az image builder cancel --name ${t.name} --resource-group ${t.resourceGroupName}`,
        ];
    }

    private async checkTemplate(): Promise<TemplateView> {
        const body = await this.arm.tryGet(this.templatePath, { apiVersion: IMAGE_BUILDER_API_VERSION });
        if (body === undefined) {
            throw new ToolFailure(`image template ${this.inputs.templateId.name} was not found in resource group ${this.inputs.templateId.resourceGroupName} (${this.templatePath}); deploy it first (pulumi up creates it before this trigger runs).`);
        }
        const view = viewTemplate(body);
        if (view.provisioningState && !/^succeeded$/i.test(view.provisioningState)) {
            const pe = view.provisioningError;
            throw new ToolFailure(
                `image template ${this.inputs.templateId.name} is in provisioning state ${view.provisioningState}, so it cannot be run` +
                    (pe ? ` (provisioningError ${pe.code ?? "?"}: ${pe.message ?? ""})` : "") +
                    "; fix the template configuration and deploy again (a changed template is replaced, not updated).",
            );
        }
        const distributors = (optionalArray(body, "properties.distribute") ?? []).filter(isRecord).filter((d) => optionalString(d, "type") === "SharedImage");
        const target = distributors.find((d) => sameResourceId(optionalString(d, "galleryImageId") ?? "", this.versionPath));
        if (!target) {
            const actual = distributors.map((d) => optionalString(d, "galleryImageId") ?? "?").join(", ") || "no gallery";
            throw new ToolFailure(`image template ${this.inputs.templateId.name} publishes to ${actual}, not to ${this.versionPath}; the template and AVD_GALLERY_IMAGE_VERSION_ID must name the same version.`);
        }
        const stamped = getCaseInsensitive(stringMap(target, "artifactTags"), CONTENT_HASH_TAG);
        if (stamped?.toLowerCase() !== this.inputs.contentHash) {
            throw new ToolFailure(
                `image template ${this.inputs.templateId.name} stamps ${stamped ? `ContentHash ${short(stamped)}` : "no ContentHash artifact tag"} on the version, but this deployment's content hash is ${short(this.inputs.contentHash)}; the template is out of date, run pulumi up again so it is replaced.`,
            );
        }
        return view;
    }

    private async getVersion(): Promise<VersionView | undefined> {
        const body = await this.arm.tryGet(this.versionPath, { apiVersion: GALLERY_API_VERSION, query: { $expand: "ReplicationStatus" } });
        return body === undefined ? undefined : viewVersion(body);
    }

    private async waitForVersionGone(): Promise<void> {
        const deadline = this.arm.clock.now() + this.inputs.timeoutMinutes * 60_000;
        while (await this.getVersion()) {
            if (this.arm.clock.now() >= deadline) throw new ToolFailure(`image version ${this.inputs.version} was still being deleted after ${this.inputs.timeoutMinutes} minutes; check it in the portal and run the deployment again.`);
            await this.arm.sleep(this.inputs.pollMs);
        }
    }

    private async waitWhileCanceling(): Promise<void> {
        const deadline = this.arm.clock.now() + this.options.cancelWaitMinutes * 60_000;
        for (;;) {
            await this.arm.sleep(this.inputs.pollMs);
            const view = viewTemplate(await this.arm.get(this.templatePath, { apiVersion: IMAGE_BUILDER_API_VERSION }));
            if (view.lastRun.runState?.toLowerCase() !== "canceling") return;
            if (this.arm.clock.now() >= deadline) throw new ToolFailure(`the previous build of ${this.inputs.templateId.name} is still cancelling after ${this.options.cancelWaitMinutes} minutes; try again later.`);
        }
    }

    /**
     * POST run, which is never blindly repeated. When its answer is lost (5xx, dropped connection)
     * the template says whether Azure applied it: a lastRunStatus newer than `previousStart`
     * (or Running) is our run, which is followed; otherwise the run was not applied and is sent again.
     */
    private async startRun(previousStart: string | undefined): Promise<LroPoller | undefined> {
        for (let attempt = 1; ; attempt++) {
            try {
                return await this.sendRun();
            } catch (e) {
                if (!(e instanceof ArmError && e.outcomeUnknown) || attempt >= 3) throw e;
                const view = viewTemplate(await this.arm.get(this.templatePath, { apiVersion: IMAGE_BUILDER_API_VERSION }));
                if (isRunning(view.lastRun.runState) || (view.lastRun.startTime !== undefined && view.lastRun.startTime !== previousStart)) {
                    this.progress.line(`the answer to starting build ${this.inputs.version} was lost (${e.code}), but Image Builder started it (${view.lastRun.runState ?? "Running"} since ${view.lastRun.startTime ?? "now"}); following that run`);
                    return undefined;
                }
                this.progress.line(`the answer to starting build ${this.inputs.version} was lost (${e.code}) and no run started; starting it again`);
            }
        }
    }

    private async sendRun(): Promise<LroPoller | undefined> {
        try {
            const op = await this.arm.begin("POST", `${this.templatePath}/run`, { apiVersion: IMAGE_BUILDER_API_VERSION, pollIntervalMs: this.inputs.pollMs, finalStateVia: "azure-async-operation" });
            this.progress.line(`started image build ${this.inputs.version} (template ${this.inputs.templateId.name})`);
            return op.done ? undefined : op;
        } catch (e) {
            // A retried POST can meet the run its first attempt started.
            if (e instanceof ArmError && e.status === 409) {
                const view = viewTemplate(await this.arm.get(this.templatePath, { apiVersion: IMAGE_BUILDER_API_VERSION }));
                if (view.lastRun.runState?.toLowerCase() === "running") {
                    this.progress.line("a build of this template is already running; following it");
                    return undefined;
                }
            }
            throw e;
        }
    }

    private async monitor(operation: LroPoller | undefined): Promise<BuildResult> {
        const { version, timeoutMinutes } = this.inputs;
        const limitMinutes = timeoutMinutes + this.options.graceMinutes;
        const deadline = this.arm.clock.now() + limitMinutes * 60_000;
        let lastState = "";
        let lastReplication = "";
        let operationError: ArmError | undefined;
        for (;;) {
            const wait = Math.max(this.inputs.pollMs, operation && !operation.done ? operation.nextPollDelayMs() : 0);
            await this.arm.sleep(Math.min(wait, Math.max(0, deadline - this.arm.clock.now())));
            if (this.arm.clock.now() >= deadline) return this.timedOut(limitMinutes);
            const view = viewTemplate(await this.arm.get(this.templatePath, { apiVersion: IMAGE_BUILDER_API_VERSION, deadline }));
            if (operation && !operation.done && !operationError) {
                try {
                    await operation.poll();
                } catch (e) {
                    if (!(e instanceof ArmError)) throw e;
                    operationError = e;
                }
            }
            const run = view.lastRun;
            // Until the run operation ends, a finished lastRunStatus can still be the previous run's.
            const operationOpen = operation !== undefined && !operation.done && !operationError;
            const finished = run.runState !== undefined && !isRunning(run.runState) && !operationOpen;
            const state = `${run.runState ?? "Running"} / ${run.runSubState ?? "Queued"}`;
            if (!finished && isRunning(run.runState) && state !== lastState) {
                lastState = state;
                const text = SUB_STATE_TEXT[(run.runSubState ?? "queued").toLowerCase()] ?? "";
                this.progress.line(`build ${version}: ${state}${text ? ` - ${text}` : ""}${run.message && !text.toLowerCase().includes(run.message.toLowerCase()) ? ` (${run.message})` : ""}`);
            }
            if (!finished && run.runSubState?.toLowerCase() === "distributing") {
                const v = await this.getVersion();
                if (v?.replication && v.replication !== lastReplication) {
                    lastReplication = v.replication;
                    this.progress.line(`build ${version}: replicating ${v.replicationState ?? ""}: ${v.replication}`.replace(/ +:/, ":"));
                }
            }
            if (operationError && !finished && isRunning(run.runState)) {
                // The operation failed but the template has not caught up: report what we have.
                throw await this.failure("Failed", run, view, `the run operation ended with ${operationError.code}: ${operationError.armMessage}`);
            }
            if (!finished) continue;
            if (/^succeeded$/i.test(run.runState ?? "")) return this.succeeded();
            throw await this.failure(run.runState ?? "Failed", run, view, operationError ? `${operationError.code}: ${operationError.armMessage}` : undefined);
        }
    }

    private async succeeded(): Promise<BuildResult> {
        const v = await this.getVersion();
        if (!v || !/^succeeded$/i.test(v.provisioningState ?? "")) {
            throw new ToolFailure(`Image Builder reported the run Succeeded, but image version ${this.inputs.version} is ${v ? `in state ${v.provisioningState ?? "unknown"}` : "missing from the gallery"}; check the template's distribute target and run the deployment again.`);
        }
        this.progress.line(`image version ${this.inputs.version} published (${v.replication ?? "replication complete"}) after ${formatDuration(this.progress.elapsedMs())}`);
        return this.result("Succeeded", false);
    }

    private async timedOut(limitMinutes: number): Promise<never> {
        this.progress.line(`build ${this.inputs.version} did not finish within ${limitMinutes} minutes; cancelling the run`);
        let cancelNote = "the run was cancelled";
        try {
            await this.cancelRun();
        } catch (e) {
            cancelNote = `cancelling the run failed (${e instanceof ArmError ? `${e.code}: ${e.armMessage}` : String(e)}); cancel it with: ${imageBuilderCancelCommand(this.inputs.templateId.resourceGroupName, this.inputs.templateId.name)}`;
        }
        const view = viewTemplate(await this.arm.get(this.templatePath, { apiVersion: IMAGE_BUILDER_API_VERSION }));
        throw await this.failure(view.lastRun.runState ?? "Canceled", view.lastRun, view, undefined, `did not finish within ${limitMinutes} minutes (build timeout ${this.inputs.timeoutMinutes} + ${this.options.graceMinutes} minutes grace); ${cancelNote}`);
    }

    /**
     * POST cancel, never blindly repeated: when its answer is lost the template says whether
     * Azure applied it (Canceling/Canceled); if not, the cancel is sent once more.
     */
    private async cancelRun(): Promise<void> {
        const cancelWaitMs = this.options.cancelWaitMinutes * 60_000;
        const deadline = this.arm.clock.now() + cancelWaitMs;
        for (let attempt = 1; ; attempt++) {
            try {
                await this.arm.lro("POST", `${this.templatePath}/cancel`, { apiVersion: IMAGE_BUILDER_API_VERSION, pollIntervalMs: this.inputs.pollMs, timeoutMs: Math.max(0, deadline - this.arm.clock.now()), deadline, finalStateVia: "azure-async-operation" });
                return;
            } catch (e) {
                if (!(e instanceof ArmError && e.outcomeUnknown) || attempt >= 3) throw e;
                const view = viewTemplate(await this.arm.get(this.templatePath, { apiVersion: IMAGE_BUILDER_API_VERSION, deadline }));
                const state = view.lastRun.runState?.toLowerCase();
                if (state === "canceling") {
                    this.progress.line(`the answer to the cancel was lost (${e.code}), but Image Builder is cancelling the run; waiting for it`);
                    await this.waitWhileCanceling();
                    return;
                }
                if (state !== "running") return;
                this.progress.line(`the answer to the cancel was lost (${e.code}) and the run is still Running; cancelling again`);
            }
        }
    }

    private async failure(runState: string, run: RunStatus, view: TemplateView, operationNote?: string, headline?: string): Promise<ToolFailure> {
        const what = `Image build for version ${this.inputs.version} (template ${this.inputs.templateId.name})`;
        const elapsed = formatDuration(this.progress.elapsedMs());
        const parts = [
            headline ? `${what} was stopped after ${elapsed}: it ${headline}.` : `${what} ended ${runState} after ${elapsed}.`,
            `runState ${runState}, runSubState ${run.runSubState ?? "unknown"}.`,
        ];
        const message = run.message?.trim();
        if (message) parts.push(`Image Builder says: ${message.replace(/\.?$/, ".")}`);
        if (view.provisioningError) parts.push(`provisioningError ${view.provisioningError.code ?? "?"}: ${view.provisioningError.message ?? ""}`.trim().replace(/\.?$/, "."));
        if (operationNote && !(message && operationNote.includes(message))) parts.push(`Run operation: ${operationNote.replace(/\.?$/, ".")}`);
        if (/^partiallysucceeded$/i.test(runState)) parts.push(`Some distribution targets failed; the version is not usable as published. Run the deployment again to delete the failed version and rebuild.`);
        parts.push("See docs/build-trigger.md (Troubleshooting) for common causes.");
        const log = await this.logTail(view, run.message);
        return new ToolFailure(parts.join(" "), log);
    }

    private async logTail(view: TemplateView, message: string | undefined): Promise<string[]> {
        if (!view.stagingResourceGroup) return ["customization.log: the template does not name its staging resource group, so the log could not be located."];
        try {
            const log = await readCustomizationLog(this.arm, view.stagingResourceGroup, message);
            if (!log) return [`customization.log: no build log found in the staging resource group ${view.stagingResourceGroup} (container packerlogs).`];
            const lines = log.text.replace(/\r\n/g, "\n").replace(/\n+$/, "").split("\n");
            return [`Last ${Math.min(LOG_TAIL_LINES, lines.length)} lines of customization.log (${log.source}):`, ...lines.slice(-LOG_TAIL_LINES).map((l) => `  ${l}`)];
        } catch (e) {
            const reason = e instanceof ArmError ? `${e.code}: ${e.armMessage}` : e instanceof Error ? e.message : String(e);
            return [`customization.log could not be read (${reason}); download it from container packerlogs in the storage account of ${view.stagingResourceGroup}.`];
        }
    }

    private async result(runState: string, reused: boolean): Promise<BuildResult> {
        const published = publishedWithTags(await this.arm.list(`${parentId(this.inputs.versionId)}/versions`, { apiVersion: GALLERY_API_VERSION }));
        const template = await this.arm.get(this.templatePath, { apiVersion: IMAGE_BUILDER_API_VERSION });
        const staging = viewTemplate(template).stagingResourceGroup;
        const releaseNotes = await collectReleaseNotes({
            arm: this.arm,
            progress: this.progress,
            imageVersion: this.inputs.version,
            imageVersionId: this.versionPath,
            template,
            published,
            readLog: async () => (staging ? readCustomizationLog(this.arm, staging, undefined, INVENTORY_LOG_BYTES) : undefined),
            pollMs: this.inputs.pollMs,
            reused,
        });
        return {
            imageVersion: this.inputs.version,
            imageVersionId: this.versionPath,
            runState,
            reusedExistingVersion: reused,
            publishedImageVersions: published.map((v) => v.name),
            ...(releaseNotes.baseImageExactVersion ? { baseImageExactVersion: releaseNotes.baseImageExactVersion } : {}),
            releaseNotes,
        };
    }
}

interface StagingAccount {
    name: string;
    id: string;
    blobEndpoint: string;
}

/**
 * The build's customization.log, where AIB writes it: the staging resource group's storage
 * account, container `packerlogs`, blob `<runId>/customization.log`. The blob is read with
 * @azure/storage-blob and a short-lived read/list account SAS from ARM (listAccountSas needs only
 * ARM rights, which the deploying identity has); if the account forbids shared keys, with an Azure
 * Storage token. Only its last `maxBytes` are read. The log is best effort, so the blob client does not retry (its retries would
 * sleep on real timers, outside the tool's clock and deadlines).
 */
export async function readCustomizationLog(arm: ArmClient, stagingResourceGroupId: string, runMessage?: string, maxBytes = LOG_TAIL_BYTES): Promise<{ text: string; source: string } | undefined> {
    const accounts = (await arm.list(`${stagingResourceGroupId}/providers/Microsoft.Storage/storageAccounts`, { apiVersion: STORAGE_API_VERSION }))
        .map((a): StagingAccount => ({ name: optionalString(a, "name") ?? "", id: optionalString(a, "id") ?? "", blobEndpoint: optionalString(a, "properties.primaryEndpoints.blob") ?? "" }))
        .filter((a) => a.name && a.id && a.blobEndpoint);
    if (accounts.length === 0) return undefined;
    // AIB's failure message names the exact log: "Image Build log location: https://<acct>.blob.../packerlogs/<runId>/customization.log".
    const named = /(https?:\/\/\S+?\/packerlogs\/[^\s/]+\/customization\.log)/i.exec(runMessage ?? "")?.[1];
    const namedAccount = named ? accounts.find((a) => named.toLowerCase().startsWith(withSlash(a.blobEndpoint).toLowerCase())) : undefined;
    const candidates = namedAccount ? [namedAccount] : accounts;
    for (const account of candidates) {
        const container = await packerLogs(arm, account);
        const prefix = named && namedAccount ? named.slice(withSlash(account.blobEndpoint).length + "packerlogs/".length).replace(/customization\.log$/i, "") : "";
        let log: { name: string; lastModified: number; size: number } | undefined;
        try {
            for await (const blob of container.listBlobsFlat({ prefix })) {
                if (!/(^|\/)customization\.log$/i.test(blob.name)) continue;
                const entry = { name: blob.name, lastModified: blob.properties.lastModified.getTime(), size: blob.properties.contentLength ?? 0 };
                if (!log || entry.lastModified > log.lastModified) log = entry;
            }
        } catch (e) {
            if (e instanceof RestError && e.statusCode === 404) continue;
            throw e;
        }
        if (!log) continue;
        const start = Math.max(0, log.size - maxBytes);
        const download = await container.getBlobClient(log.name).download(start, log.size > 0 ? log.size - start : undefined);
        let text = await streamText(download.readableStreamBody);
        // A ranged read can start mid-line; drop the partial first line.
        if (start > 0) text = text.slice(text.indexOf("\n") + 1);
        return { text, source: `storage account ${account.name}, packerlogs/${log.name}` };
    }
    return undefined;
}

function withSlash(url: string): string {
    return url.endsWith("/") ? url : `${url}/`;
}

const BLOB_CLIENT_OPTIONS = { retryOptions: { maxTries: 1 } };

/** The `packerlogs` container, reachable with an account SAS, or with a Storage token where shared keys are off. */
async function packerLogs(arm: ArmClient, account: StagingAccount): Promise<ContainerClient> {
    const endpoint = withSlash(account.blobEndpoint);
    const expiry = new Date(arm.clock.now() + 60 * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const body = await arm.post(`${account.id}/ListAccountSas`, {
        apiVersion: STORAGE_API_VERSION,
        body: {
            signedServices: "b",
            signedResourceTypes: "co",
            signedPermission: "rl",
            signedExpiry: expiry,
            signedProtocol: endpoint.startsWith("https:") ? "https" : "https,http",
        },
    });
    const sas = optionalString(body, "accountSasToken");
    if (!sas) throw new Error(`listAccountSas on ${account.name} returned no accountSasToken`);
    const withSas = new ContainerClient(`${endpoint}packerlogs?${sas}`, new AnonymousCredential(), BLOB_CLIENT_OPTIONS);
    // Probe once: accounts with allowSharedKeyAccess=false refuse every SAS signed with a key.
    try {
        await withSas.listBlobsFlat().byPage({ maxPageSize: 1 }).next();
        return withSas;
    } catch (e) {
        if (!(e instanceof RestError)) throw e;
        if (e.statusCode === 404) return withSas;
        if (e.statusCode !== 403) throw e;
    }
    if (!arm.tokenProvider.supports(STORAGE_SCOPE)) {
        throw new Error(`storage account ${account.name} refuses shared-key (SAS) access and no Azure Storage token is available (AVD_ARM_ACCESS_TOKEN covers ARM only); sign in with "az login" and grant yourself Storage Blob Data Reader on it`);
    }
    return new ContainerClient(`${endpoint}packerlogs`, storageTokenPipeline(arm));
}

/**
 * A Storage pipeline that signs with the tools' token provider. A policy of our own rather than
 * the SDK's TokenCredential: the SDK's bearer policy refuses plain-http endpoints, which rules out
 * the local test fake, and this keeps the token's lifetime with the provider.
 */
function storageTokenPipeline(arm: ArmClient): Pipeline {
    const base = newPipeline(new AnonymousCredential(), BLOB_CLIENT_OPTIONS);
    const bearer: RequestPolicyFactory = {
        create: (next) => ({
            sendRequest: async (request) => {
                request.headers.set("authorization", `Bearer ${await arm.tokenProvider.getToken(STORAGE_SCOPE)}`);
                return next.sendRequest(request);
            },
        }),
    };
    return new Pipeline([...base.factories, bearer], base.options);
}

async function streamText(stream: NodeJS.ReadableStream | undefined): Promise<string> {
    if (!stream) return "";
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    return Buffer.concat(chunks).toString("utf8");
}

function short(hash: string): string {
    return hash.length > 12 ? `${hash.slice(0, 12)}…` : hash;
}

/** Runs the trigger; returns the exit code. Never throws. */
export async function main(env: NodeJS.ProcessEnv, io: Io, options: MainOptions = {}): Promise<number> {
    let trigger: BuildTrigger | undefined;
    const notifier = Notifier.fromEnvironment(env, "build", io, options.clock ?? systemClock, options.notify);
    try {
        const inputs = readInputs(env);
        await notifier.started();
        const heartbeat = new Progress(io, options.clock ?? systemClock);
        const arm = ArmClient.fromEnvironment(env, {
            clock: options.clock,
            tokenProvider: options.tokenProvider,
            fetch: options.fetch,
            retry: options.retry,
            defaultPollIntervalMs: inputs.pollMs,
            signal: options.signal,
            heartbeat: (line) => heartbeat.line(line),
        });
        trigger = new BuildTrigger(arm, inputs, io, {
            graceMinutes: options.graceMinutes ?? GRACE_MINUTES,
            cancelWaitMinutes: options.cancelWaitMinutes ?? 10,
            stack: env.PULUMI_STACK?.trim() || undefined,
        });
        const result = await trigger.run();
        io.stdout(JSON.stringify(result));
        await notifier.finished(result.reusedExistingVersion ? `image version ${result.imageVersion} was already published with this content` : `image version ${result.imageVersion} published`);
        return 0;
    } catch (e) {
        if (e instanceof StopRequested) {
            io.stderr(`Error: the image build trigger ${e.message}.`);
            for (const line of trigger?.stopNote() ?? []) io.stderr(line);
            await notifier.failed([`the image build trigger ${e.message}`]);
            return 1;
        }
        const report = describeFailure(e);
        for (const line of report) io.stderr(line);
        await notifier.failed(report);
        return 1;
    }
}

function describeFailure(e: unknown): string[] {
    return describeToolFailure(e, {
        tool: "image build trigger",
        permissions: "it needs Contributor on the image template's and the gallery's resource groups",
        retryLater: "run the deployment again later",
    });
}

if (require.main === module) runAsScript(main);
