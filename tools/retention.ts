// Gallery retention: after a build, deletes the old versions of one image definition that the
// plan listed and a live look at the gallery confirms (src/lifecycle/retention.ts decides both).
// Run by the GalleryRetention component's command resource as `node_modules/.bin/tsx
// tools/retention.ts`, or by hand (docs/golden-image.md "Gallery retention").
//
// Inputs (environment): AVD_IMAGE_DEFINITION_ID, AVD_RETENTION_KEEP, AVD_RETENTION_PLANNED
// ("none" or "1.0.0,1.1.0"), AVD_RETENTION_PINS (JSON: what every ring pins and validated),
// AVD_RETENTION_DEADLINE_MINUTES, optional AVD_POLL_SECONDS (default 30); ARM endpoint and
// credentials as in tools/azure/credentials.ts. Progress goes to stderr; the last line of stdout
// is one JSON object (RetentionResult). Exit 0 whenever the inputs were valid and no stop was
// asked for: a deletion Azure refuses (409), that fails (5xx, a Failed operation) or that the
// deadline cuts short is reported in the result and as a "Warning:" line, never as a failure,
// because housekeeping must not fail the build that just published. Exit 1 = bad input or stopped.
import { ArmClient, ArmError } from "./azure/arm";
import { formatDuration, systemClock } from "./azure/clock";
import { CredentialError } from "./azure/credentials";
import { parseTypedResourceId, ResourceIdError, type ResourceId } from "./azure/ids";
import { at, optionalString } from "./azure/json";
import { GALLERY_API_VERSION } from "./shared/gallery";
import { describeFailure, Progress, runAsScript, StopRequested, ToolFailure, type Io, type ToolOptions } from "./shared/tool";
import { selectRetention, type GalleryVersion, type RingPin } from "../src/lifecycle/retention";
import { parsePlanned, parseRingPins, type RetentionResult } from "../src/lifecycle/retentionCommand";
import { AVD_ENV as V, EnvironmentReader } from "../src/tools/environment";

export type { RetentionResult };
export type MainOptions = ToolOptions;

export interface RetentionInputs {
    definitionId: ResourceId;
    keep: number;
    planned: string[];
    pins: RingPin[];
    deadlineMs: number;
    pollMs: number;
}

/** The tool's AVD_* inputs, read by the contract the config compiles against (src/tools/environment.ts). */
export function readRetentionInputs(env: NodeJS.ProcessEnv): RetentionInputs {
    const r = new EnvironmentReader(env, (message) => new ToolFailure(message));
    const definitionRaw = r.required(V.imageDefinitionId, "the ARM id of the image definition (.../galleries/<g>/images/<def>)");
    let definitionId: ResourceId;
    try {
        definitionId = parseTypedResourceId(definitionRaw, "Microsoft.Compute/galleries/images", V.imageDefinitionId.name);
    } catch (e) {
        if (e instanceof ResourceIdError) throw new ToolFailure(`${e.message}.`);
        throw e;
    }
    const planned = parsePlanned(r.required(V.retentionPlanned, `the planned deletions ("none" or versions separated by commas)`));
    if ("problem" in planned) throw new ToolFailure(`${V.retentionPlanned.name} ${planned.problem}.`);
    const pins = parseRingPins(r.required(V.retentionPins, "what every ring pins and validated, as JSON"));
    if ("problem" in pins) throw new ToolFailure(`${V.retentionPins.name} ${pins.problem}.`);
    return {
        definitionId,
        keep: r.integer(V.retentionKeep),
        planned,
        pins,
        deadlineMs: r.integer(V.retentionDeadlineMinutes) * 60_000,
        pollMs: r.seconds(V.pollSeconds, 30),
    };
}

/** One listed or read version as the selection sees it. */
function viewVersion(body: unknown): GalleryVersion | undefined {
    const name = optionalString(body, "name");
    if (!name) return undefined;
    const block = at(body, "properties.safetyProfile.blockDeletionBeforeEndOfLife");
    return {
        name,
        provisioningState: optionalString(body, "properties.provisioningState") ?? "Unknown",
        replicationState: optionalString(body, "properties.replicationStatus.aggregatedState"),
        endOfLifeDate: optionalString(body, "properties.publishingProfile.endOfLifeDate"),
        blockDeletionBeforeEndOfLife: block === true,
    };
}

export class GalleryRetention {
    private readonly progress: Progress;
    private readonly deadline: number;
    private readonly definitionPath: string;

    constructor(
        private readonly arm: ArmClient,
        private readonly inputs: RetentionInputs,
        io: Io,
    ) {
        this.progress = new Progress(io, arm.clock);
        this.deadline = arm.clock.now() + inputs.deadlineMs;
        this.definitionPath = inputs.definitionId.id;
    }

    async run(): Promise<RetentionResult> {
        const { planned, keep } = this.inputs;
        const definition = this.inputs.definitionId.types[1].name;
        const result: RetentionResult = { imageDefinitionId: this.definitionPath, planned, deleted: [], skipped: [], failed: [] };
        if (planned.length === 0) {
            this.progress.line(`gallery retention for ${definition}: the plan deletes nothing (keep ${keep}, plus every pinned, validated and rollback version)`);
            return result;
        }
        this.progress.line(`gallery retention for ${definition}: the plan deletes ${planned.join(", ")} (keep ${keep}); checking the gallery first`);

        let listed: GalleryVersion[];
        try {
            listed = (await this.arm.list(`${this.definitionPath}/versions`, { apiVersion: GALLERY_API_VERSION, deadline: this.deadline })).map(viewVersion).filter((v): v is GalleryVersion => v !== undefined);
        } catch (e) {
            if (e instanceof StopRequested || !(e instanceof ArmError || e instanceof CredentialError)) throw e;
            const line = describeFailure(e, HINTS)[0].replace(/^Error: /, "");
            this.progress.line(`Warning: gallery retention could not list the versions of ${definition}, so it deleted nothing: ${line}`);
            return { ...result, error: line, skipped: planned.map((version) => ({ version, reason: "the gallery could not be listed" })) };
        }

        const live = selectRetention(listed, { keep, pins: this.inputs.pins, now: this.arm.clock.now() });
        const keptReasons = new Map(live.kept.map((k) => [k.version, k.reasons.join("; ")]));
        const unplanned = live.delete.filter((v) => !planned.includes(v));
        if (unplanned.length > 0) this.progress.line(`not in the plan, so left for the next deployment: ${unplanned.join(", ")}`);

        for (const version of planned) {
            const reason = !listed.some((v) => v.name === version) ? "no longer in the gallery" : keptReasons.get(version);
            if (reason !== undefined) {
                this.progress.line(`keeping ${version}: ${reason}`);
                result.skipped.push({ version, reason });
                continue;
            }
            await this.deleteOne(version, listed, result);
        }
        const summary = [`deleted ${result.deleted.length ? result.deleted.join(", ") : "nothing"}`];
        if (result.skipped.length) summary.push(`kept ${result.skipped.length} planned`);
        if (result.failed.length) summary.push(`${result.failed.length} failed (${result.failed.map((f) => f.version).join(", ")})`);
        this.progress.line(`gallery retention for ${definition} done: ${summary.join(", ")}`);
        return result;
    }

    /** Deletes one confirmed version; every outcome lands in `result`, only a stop request escapes. */
    private async deleteOne(version: string, listed: GalleryVersion[], result: RetentionResult): Promise<void> {
        const path = `${this.definitionPath}/versions/${version}`;
        const left = this.deadline - this.arm.clock.now();
        if (left <= 0) {
            const reason = `not attempted: the retention deadline (${this.inputs.deadlineMs / 60_000} minutes) passed`;
            this.progress.line(`keeping ${version}: ${reason}`);
            result.skipped.push({ version, reason });
            return;
        }
        try {
            // The list carries no replication status; the version's own GET does, and is the latest word.
            const body = await this.arm.tryGet(path, { apiVersion: GALLERY_API_VERSION, query: { $expand: "ReplicationStatus" }, deadline: this.deadline });
            const current = body === undefined ? undefined : viewVersion(body);
            if (!current) {
                result.skipped.push({ version, reason: "no longer in the gallery" });
                this.progress.line(`keeping ${version}: no longer in the gallery`);
                return;
            }
            const recheck = selectRetention([...listed.filter((v) => v.name !== version), current], { keep: this.inputs.keep, pins: this.inputs.pins, now: this.arm.clock.now() });
            const kept = recheck.kept.find((k) => k.version === version);
            if (kept) {
                const reason = kept.reasons.join("; ");
                this.progress.line(`keeping ${version}: ${reason}`);
                result.skipped.push({ version, reason });
                return;
            }
            this.arm.throwIfStopped(`the deletion of image version ${version}`);
            const started = this.arm.clock.now();
            this.progress.line(`deleting image version ${version}`);
            await this.arm.lro("DELETE", path, { apiVersion: GALLERY_API_VERSION, pollIntervalMs: this.inputs.pollMs, deadline: this.deadline, timeoutMs: this.deadline - started });
            result.deleted.push(version);
            this.progress.line(`deleted image version ${version} (${formatDuration(this.arm.clock.now() - started)})`);
        } catch (e) {
            if (e instanceof StopRequested || !(e instanceof ArmError || e instanceof CredentialError)) throw e;
            // An answer lost on the way back may hide a deletion Azure finished.
            if (await this.isGone(path)) {
                result.deleted.push(version);
                this.progress.line(`deleted image version ${version} (Azure's answer was lost: ${e.message}; the version is gone)`);
                return;
            }
            const error = describeFailure(e, HINTS)[0].replace(/^Error: /, "");
            result.failed.push({ version, error });
            this.progress.line(`Warning: could not delete image version ${version}: ${error} It stays in the gallery; the next build's retention tries again.`);
        }
    }

    private async isGone(path: string): Promise<boolean> {
        if (this.deadline - this.arm.clock.now() <= 0) return false;
        try {
            return (await this.arm.tryGet(path, { apiVersion: GALLERY_API_VERSION, deadline: this.deadline })) === undefined;
        } catch (e) {
            if (e instanceof StopRequested) throw e;
            return false;
        }
    }
}

const HINTS = {
    tool: "gallery retention",
    permissions: "it needs Contributor (Microsoft.Compute/galleries/images/versions/delete) on the gallery's resource group",
    retryLater: "the next build's retention tries again",
};

/** Runs retention; returns the exit code. Never throws. */
export async function main(env: NodeJS.ProcessEnv, io: Io, options: MainOptions = {}): Promise<number> {
    try {
        const inputs = readRetentionInputs(env);
        const heartbeat = new Progress(io, options.clock ?? systemClock);
        const arm = ArmClient.fromEnvironment(env, {
            clock: options.clock,
            tokenProvider: options.tokenProvider,
            fetch: options.fetch,
            retry: options.retry,
            defaultPollIntervalMs: inputs.pollMs,
            signal: options.signal,
            heartbeat: (line) => heartbeat.line(line),
            // No single Retry-After may outlast retention's own deadline.
            maxRetryWaitMs: inputs.deadlineMs,
        });
        const result = await new GalleryRetention(arm, inputs, io).run();
        io.stdout(JSON.stringify(result));
        return 0;
    } catch (e) {
        for (const line of describeFailure(e, HINTS)) io.stderr(line);
        if (e instanceof StopRequested) io.stderr("Versions not deleted yet stay in the gallery; the next build's retention deletes them.");
        return 1;
    }
}

if (require.main === module) runAsScript(main);
