// The AVD_* environment of tools/rollout.ts and tools/healthGate.ts, validated up front so
// a mistake is one message naming the variable, before anything touches Azure.
import { DurationError, parseIsoDuration } from "../../src/rollout/duration";
import type { RolloutPolicy } from "../../src/rollout/planner";
import { parentId, parseTypedResourceId, ResourceIdError, type ResourceId } from "../azure/ids";

export class InputError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "InputError";
    }
}

export interface Targets {
    vmss: ResourceId;
    hostPool: ResourceId;
    imageVersionId: string;
    /** The version's image definition, for scale sets that follow the definition's latest version. */
    imageDefinitionId: string;
    /** "1.2.0" */
    imageVersion: string;
}

export interface RolloutInputs extends Targets {
    policy: RolloutPolicy;
    pauseMs: number;
    drainTimeoutMs: number;
    /** Sent to every user on a host when it starts draining; undefined = no message. */
    message?: { title: string; body: string };
    /** Log remaining users off after the drain timeout (only ever true together with a message). */
    forceLogoff: boolean;
    /** AVD_FORCE_LOGOFF was asked for without a message, and is ignored. */
    forceLogoffIgnored: boolean;
    pollMs: number;
    /** How long hosts get to report healthy and Available after an upgrade. */
    healthTimeoutMs: number;
    /** Sign out Disconnected sessions at the drain timeout (AVD_LOG_OFF_DISCONNECTED, default false). */
    logOffDisconnectedSessions: boolean;
    /** This run's share of a long rollout (AVD_MAX_RUN_MINUTES); it stops cleanly between batches. */
    maxRunMs?: number;
}

export type UpgradeMode = "Manual" | "Rolling" | "Automatic";

export interface GateInputs extends Targets {
    upgradeMode: UpgradeMode;
    maxLoginSeconds: number;
    loginProbe: boolean;
    maxCpuPercent: number;
    minFreeMemoryPercent: number;
    checkFslogix: boolean;
    timeoutMs: number;
    /** One host's Run Command probe (AVD_PROBE_TIMEOUT_MINUTES); Azure itself stops a script after 90 min. */
    probeTimeoutMs: number;
    pollMs: number;
}

const DEFAULT_MESSAGE_TITLE = "Session host maintenance";

function value(env: NodeJS.ProcessEnv, name: string): string | undefined {
    const v = env[name]?.trim();
    return v ? v : undefined;
}

function required(env: NodeJS.ProcessEnv, name: string, hint: string): string {
    const v = value(env, name);
    if (v === undefined) throw new InputError(`${name} is not set: it must be ${hint}.`);
    return v;
}

function integer(env: NodeJS.ProcessEnv, name: string, min: number, max: number, fallback?: number): number {
    const raw = value(env, name);
    if (raw === undefined) {
        if (fallback !== undefined) return fallback;
        throw new InputError(`${name} is not set: it must be a whole number from ${min} to ${max}.`);
    }
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
        throw new InputError(`${name} must be a whole number from ${min} to ${max}, got "${raw}".`);
    }
    return Number(raw);
}

function boolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
    const raw = value(env, name);
    if (raw === undefined) return fallback;
    if (/^true$/i.test(raw)) return true;
    if (/^false$/i.test(raw)) return false;
    throw new InputError(`${name} must be "true" or "false", got "${raw}".`);
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
    const raw = value(env, name) ?? String(fallback);
    if (!/^\d+(\.\d+)?$/.test(raw) || !(Number(raw) > 0)) throw new InputError(`${name} must be a positive number of seconds, got "${raw}".`);
    return Number(raw) * 1000;
}

function typedId(raw: string, type: string, name: string): ResourceId {
    try {
        return parseTypedResourceId(raw, type, name);
    } catch (e) {
        if (e instanceof ResourceIdError) throw new InputError(`${e.message}.`);
        throw e;
    }
}

export function readTargets(env: NodeJS.ProcessEnv): Targets {
    const vmss = typedId(
        required(env, "AVD_VMSS_ID", "the ARM id of the session-host scale set (/subscriptions/.../providers/Microsoft.Compute/virtualMachineScaleSets/<name>)"),
        "Microsoft.Compute/virtualMachineScaleSets",
        "AVD_VMSS_ID",
    );
    const hostPool = typedId(
        required(env, "AVD_HOST_POOL_ID", "the ARM id of the AVD host pool (/subscriptions/.../providers/Microsoft.DesktopVirtualization/hostPools/<name>)"),
        "Microsoft.DesktopVirtualization/hostPools",
        "AVD_HOST_POOL_ID",
    );
    const version = typedId(
        required(env, "AVD_IMAGE_VERSION_ID", "the ARM id of the target gallery image version (.../galleries/<g>/images/<def>/versions/<X.Y.Z>)"),
        "Microsoft.Compute/galleries/images/versions",
        "AVD_IMAGE_VERSION_ID",
    );
    if (!/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.test(version.name)) {
        throw new InputError(`AVD_IMAGE_VERSION_ID ends in "${version.name}", which is not a MAJOR.MINOR.PATCH gallery image version.`);
    }
    return { vmss, hostPool, imageVersionId: version.id, imageDefinitionId: parentId(version), imageVersion: version.name };
}

export function readRolloutInputs(env: NodeJS.ProcessEnv): RolloutInputs {
    const targets = readTargets(env);
    let pauseMs: number;
    const pauseRaw = required(env, "AVD_PAUSE_BETWEEN_BATCHES", 'an ISO 8601 duration such as "PT10M"');
    try {
        pauseMs = parseIsoDuration(pauseRaw);
    } catch (e) {
        if (e instanceof DurationError) throw new InputError(`AVD_PAUSE_BETWEEN_BATCHES: ${e.message}.`);
        throw e;
    }
    const body = value(env, "AVD_DRAIN_MESSAGE_BODY");
    const title = value(env, "AVD_DRAIN_MESSAGE_TITLE");
    const forceAsked = boolean(env, "AVD_FORCE_LOGOFF", false);
    return {
        ...targets,
        policy: {
            maxBatchInstancePercent: integer(env, "AVD_MAX_BATCH_PERCENT", 1, 100),
            maxUnhealthyInstancePercent: integer(env, "AVD_MAX_UNHEALTHY_PERCENT", 0, 100),
            maxUnhealthyUpgradedInstancePercent: integer(env, "AVD_MAX_UNHEALTHY_UPGRADED_PERCENT", 0, 100),
            prioritizeUnhealthyInstances: boolean(env, "AVD_PRIORITIZE_UNHEALTHY", true),
        },
        pauseMs,
        drainTimeoutMs: integer(env, "AVD_DRAIN_TIMEOUT_MINUTES", 0, 10080) * 60_000,
        message: body ? { title: title ?? DEFAULT_MESSAGE_TITLE, body } : undefined,
        forceLogoff: forceAsked && body !== undefined,
        forceLogoffIgnored: forceAsked && body === undefined,
        pollMs: seconds(env, "AVD_POLL_SECONDS", 30),
        healthTimeoutMs: integer(env, "AVD_HEALTH_TIMEOUT_MINUTES", 1, 1440, 45) * 60_000,
        logOffDisconnectedSessions: boolean(env, "AVD_LOG_OFF_DISCONNECTED", false),
        maxRunMs: value(env, "AVD_MAX_RUN_MINUTES") === undefined ? undefined : integer(env, "AVD_MAX_RUN_MINUTES", 10, 10080) * 60_000,
    };
}

export function readGateInputs(env: NodeJS.ProcessEnv): GateInputs {
    const targets = readTargets(env);
    const mode = value(env, "AVD_UPGRADE_MODE") ?? "Manual";
    if (mode !== "Manual" && mode !== "Rolling" && mode !== "Automatic") {
        throw new InputError(`AVD_UPGRADE_MODE must be Manual, Rolling or Automatic, got "${mode}".`);
    }
    return {
        ...targets,
        upgradeMode: mode,
        maxLoginSeconds: integer(env, "AVD_MAX_LOGIN_SECONDS", 1, 3600, 30),
        loginProbe: boolean(env, "AVD_LOGIN_PROBE", false),
        maxCpuPercent: integer(env, "AVD_MAX_CPU_PERCENT", 1, 100, 80),
        minFreeMemoryPercent: integer(env, "AVD_MIN_FREE_MEMORY_PERCENT", 0, 99, 20),
        checkFslogix: boolean(env, "AVD_CHECK_FSLOGIX", true),
        timeoutMs: integer(env, "AVD_GATE_TIMEOUT_MINUTES", 1, 10080, 60) * 60_000,
        probeTimeoutMs: integer(env, "AVD_PROBE_TIMEOUT_MINUTES", 1, 90, 10) * 60_000,
        pollMs: seconds(env, "AVD_POLL_SECONDS", 30),
    };
}
