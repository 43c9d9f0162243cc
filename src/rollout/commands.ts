// What the ImageRollout component hands the deploy-time tools: the command lines and their
// non-secret AVD_* environments, built from the validated ring config, and the parsing of
// the tools' last stdout line (docs/ARCHITECTURE.md "Deploy-time tools").
import type { SessionHostsConfig } from "../config/types";
import { rolloutWindowJson } from "../config/window";
import { AVD_ENV as V } from "../tools/environment";
import { gateTimeoutMinutes } from "./healthGate";

/** Relative paths only: an absolute path would make every machine's `pulumi up` a diff. */
export const ROLLOUT_COMMAND = "node_modules/.bin/tsx tools/rollout.ts";
export const HEALTH_GATE_COMMAND = "node_modules/.bin/tsx tools/healthGate.ts";

/** The ARM ids the tools act on, and the image the pool's hosts must end up on: exactly one of the two. */
export type RolloutTargets = { vmssId: string; hostPoolId: string } & (
    | { /** `.../galleries/{g}/images/{def}/versions/{X.Y.Z}` */ imageVersionId: string }
    | { /** `publisher:offer:sku:version`, a break-glass marketplace pool */ marketplaceImage: string }
);

function imageTarget(t: RolloutTargets): Record<string, string> {
    return "imageVersionId" in t ? { [V.imageVersionId.name]: t.imageVersionId } : { [V.marketplaceImage.name]: t.marketplaceImage };
}

/** Only Manual rings run the drain-aware rollout; Azure upgrades Rolling and Automatic rings itself. */
export function runsRollout(sh: Pick<SessionHostsConfig, "upgradeMode">): boolean {
    return sh.upgradeMode === "Manual";
}

export function rolloutEnvironment(sh: SessionHostsConfig, t: RolloutTargets): Record<string, string> {
    const ru = sh.rollingUpgrade;
    const drain = sh.drain;
    const env: Record<string, string> = {
        [V.vmssId.name]: t.vmssId,
        [V.hostPoolId.name]: t.hostPoolId,
        ...imageTarget(t),
        [V.maxBatchPercent.name]: String(ru.maxBatchInstancePercent),
        [V.maxUnhealthyPercent.name]: String(ru.maxUnhealthyInstancePercent),
        [V.maxUnhealthyUpgradedPercent.name]: String(ru.maxUnhealthyUpgradedInstancePercent),
        [V.pauseBetweenBatches.name]: ru.pauseTimeBetweenBatches,
        [V.prioritizeUnhealthy.name]: String(ru.prioritizeUnhealthyInstances),
        [V.drainTimeoutMinutes.name]: String(drain.timeoutMinutes),
        // The config refuses forced logoff without a message; the tool checks again.
        [V.forceLogoff.name]: String(drain.forceLogoffAfterTimeout && drain.messageBody !== undefined),
        [V.logOffDisconnected.name]: String(drain.logOffDisconnectedSessions),
        [V.rolloutStrategy.name]: sh.rollout.strategy,
    };
    // Only a surge returns the scale set to it; a reimage ring's rollout does not re-run when the capacity changes.
    if (sh.rollout.strategy === "surge") {
        env[V.capacity.name] = String(sh.capacity);
        // The preflight checks the subnet's addresses and the size's vCPU quota; reimage needs neither.
        env[V.subnetId.name] = sh.subnetId;
        env[V.vmSize.name] = sh.vmSize;
    } else {
        env[V.rolloutPacing.name] = sh.rollout.pacing;
    }
    if (drain.messageTitle !== undefined) env[V.drainMessageTitle.name] = drain.messageTitle;
    if (drain.messageBody !== undefined) env[V.drainMessageBody.name] = drain.messageBody;
    if (sh.rollout.maxRunMinutes !== undefined) env[V.maxRunMinutes.name] = String(sh.rollout.maxRunMinutes);
    if (sh.rollout.window !== undefined) env[V.rolloutWindow.name] = rolloutWindowJson(sh.rollout.window);
    return env;
}

export function healthGateEnvironment(sh: SessionHostsConfig, t: RolloutTargets): Record<string, string> {
    const hg = sh.healthGate;
    return {
        [V.vmssId.name]: t.vmssId,
        [V.hostPoolId.name]: t.hostPoolId,
        ...imageTarget(t),
        [V.upgradeMode.name]: sh.upgradeMode,
        [V.maxLoginSeconds.name]: String(hg.maxLoginSeconds),
        [V.loginProbe.name]: String(hg.loginProbe),
        [V.maxCpuPercent.name]: String(hg.maxCpuPercent),
        [V.minFreeMemoryPercent.name]: String(hg.minFreeMemoryPercent),
        [V.checkFslogix.name]: String(hg.checkFslogix),
        [V.gateTimeoutMinutes.name]: String(gateTimeoutMinutes(sh)),
        [V.probeTimeoutMinutes.name]: String(hg.probeTimeoutMinutes),
        // Only on GPU pools: an extra variable elsewhere would change every gate command's environment.
        ...(sh.gpu ? { [V.gpuVendor.name]: sh.gpu.vendor } : {}),
    };
}

/** The JSON object on the last non-empty line of a tool's stdout. */
export function lastJsonLine(stdout: string, tool: string): Record<string, unknown> {
    const last = stdout.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).pop();
    let value: unknown;
    try {
        value = last === undefined ? undefined : JSON.parse(last);
    } catch {
        value = undefined;
    }
    if (!isRecord(value)) {
        throw new Error(`${tool} did not print its result as a JSON object on the last line of stdout (got ${JSON.stringify(last ?? "")})`);
    }
    return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The version the health gate validated; refuses a result for any other version than the ring's. */
export function validatedVersionFrom(stdout: string, expectedVersion: string): string {
    const result = lastJsonLine(stdout, "the health gate (tools/healthGate.ts)");
    const version = result.validatedImageVersion;
    if (typeof version !== "string") throw new Error("the health gate's result has no validatedImageVersion");
    if (version !== expectedVersion) {
        throw new Error(`the health gate validated image version ${version}, but this ring runs ${expectedVersion}`);
    }
    return version;
}
