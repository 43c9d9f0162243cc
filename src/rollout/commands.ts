// What the ImageRollout component hands the deploy-time tools: the command lines and their
// non-secret AVD_* environments, built from the validated ring config, and the parsing of
// the tools' last stdout line (docs/ARCHITECTURE.md "Deploy-time tools").
import type { RingConfig } from "../config/types";
import { gateTimeoutMinutes } from "./healthGate";

/** Relative paths only: an absolute path would make every machine's `pulumi up` a diff. */
export const ROLLOUT_COMMAND = "node_modules/.bin/tsx tools/rollout.ts";
export const HEALTH_GATE_COMMAND = "node_modules/.bin/tsx tools/healthGate.ts";

export interface RolloutTargets {
    vmssId: string;
    hostPoolId: string;
    imageVersionId: string;
}

/** Only Manual rings run the drain-aware rollout; Azure upgrades Rolling and Automatic rings itself. */
export function runsRollout(ring: RingConfig): boolean {
    return ring.sessionHosts.upgradeMode === "Manual";
}

export function rolloutEnvironment(ring: RingConfig, t: RolloutTargets): Record<string, string> {
    const ru = ring.sessionHosts.rollingUpgrade;
    const drain = ring.sessionHosts.drain;
    const env: Record<string, string> = {
        AVD_VMSS_ID: t.vmssId,
        AVD_HOST_POOL_ID: t.hostPoolId,
        AVD_IMAGE_VERSION_ID: t.imageVersionId,
        AVD_MAX_BATCH_PERCENT: String(ru.maxBatchInstancePercent),
        AVD_MAX_UNHEALTHY_PERCENT: String(ru.maxUnhealthyInstancePercent),
        AVD_MAX_UNHEALTHY_UPGRADED_PERCENT: String(ru.maxUnhealthyUpgradedInstancePercent),
        AVD_PAUSE_BETWEEN_BATCHES: ru.pauseTimeBetweenBatches,
        AVD_PRIORITIZE_UNHEALTHY: String(ru.prioritizeUnhealthyInstances),
        AVD_DRAIN_TIMEOUT_MINUTES: String(drain.timeoutMinutes),
        // The config refuses forced logoff without a message; the tool checks again.
        AVD_FORCE_LOGOFF: String(drain.forceLogoffAfterTimeout && drain.messageBody !== undefined),
        AVD_LOG_OFF_DISCONNECTED: String(drain.logOffDisconnectedSessions),
    };
    const maxRunMinutes = ring.sessionHosts.rollout.maxRunMinutes;
    if (maxRunMinutes !== undefined) env.AVD_MAX_RUN_MINUTES = String(maxRunMinutes);
    if (drain.messageTitle !== undefined) env.AVD_DRAIN_MESSAGE_TITLE = drain.messageTitle;
    if (drain.messageBody !== undefined) env.AVD_DRAIN_MESSAGE_BODY = drain.messageBody;
    return env;
}

export function healthGateEnvironment(ring: RingConfig, t: RolloutTargets): Record<string, string> {
    const hg = ring.sessionHosts.healthGate;
    return {
        AVD_VMSS_ID: t.vmssId,
        AVD_HOST_POOL_ID: t.hostPoolId,
        AVD_IMAGE_VERSION_ID: t.imageVersionId,
        AVD_UPGRADE_MODE: ring.sessionHosts.upgradeMode,
        AVD_MAX_LOGIN_SECONDS: String(hg.maxLoginSeconds),
        AVD_LOGIN_PROBE: String(hg.loginProbe),
        AVD_MAX_CPU_PERCENT: String(hg.maxCpuPercent),
        AVD_MIN_FREE_MEMORY_PERCENT: String(hg.minFreeMemoryPercent),
        AVD_CHECK_FSLOGIX: String(hg.checkFslogix),
        AVD_GATE_TIMEOUT_MINUTES: String(gateTimeoutMinutes(ring)),
        AVD_PROBE_TIMEOUT_MINUTES: String(hg.probeTimeoutMinutes),
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
