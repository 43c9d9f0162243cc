// The AVD_* environment of tools/rollout.ts and tools/healthGate.ts, validated up front so
// a mistake is one message naming the variable, before anything touches Azure. Names and rules
// come from the contract the config also compiles against (src/tools/environment.ts).
import { rolloutWindowFromJson } from "../../src/config/window";
import type { RolloutPolicy } from "../../src/rollout/planner";
import type { RolloutWindow } from "../../src/rollout/window";
import type { RolloutPacing } from "../../src/config/types";
import type { GpuVendor } from "../../src/sessionHosts/gpu";
import { AVD_ENV as V, DEFAULTS, EnvironmentReader, formatMarketplaceImage, GPU_VENDORS, ROLLOUT_PACINGS, ROLLOUT_STRATEGIES, surgeHeadroomProblem, UPGRADE_MODES, type MarketplaceImageRef } from "../../src/tools/environment";
import { parentId, parseTypedResourceId, ResourceIdError, type ResourceId } from "../azure/ids";
import { GALLERY_VERSION_PATTERN } from "../shared/tool";

export class InputError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "InputError";
    }
}

interface PoolTargets {
    vmss: ResourceId;
    hostPool: ResourceId;
    /** "1.2.0"; for a marketplace image its version ("26100.2605.241207" or "latest"). */
    imageVersion: string;
}

/** A pool on a gallery image version (AVD_IMAGE_VERSION_ID). */
export interface GalleryTargets extends PoolTargets {
    source: "gallery";
    imageVersionId: string;
    /** The version's image definition, for scale sets that follow the definition's latest version. */
    imageDefinitionId: string;
}

/** The break-glass pool on a marketplace image (AVD_MARKETPLACE_IMAGE). */
export interface MarketplaceTargets extends PoolTargets {
    source: "marketplace";
    marketplaceImage: MarketplaceImageRef;
}

export type Targets = GalleryTargets | MarketplaceTargets;

/** How a tool's result names the image: the gallery version's id, or the marketplace image. */
export type ImageIdentity = { imageVersionId: string } | { marketplaceImage: MarketplaceImageRef };

export function imageIdentity(t: Targets): ImageIdentity {
    return t.source === "gallery" ? { imageVersionId: t.imageVersionId } : { marketplaceImage: t.marketplaceImage };
}

/** The image for messages: the gallery version id, or publisher:offer:sku:version. */
export function imageText(t: Targets): string {
    return t.source === "gallery" ? t.imageVersionId : formatMarketplaceImage(t.marketplaceImage);
}

export type RolloutInputs = Targets & RolloutSettings;

interface RolloutSettings {
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
    /** This run's share of a long rollout (AVD_MAX_RUN_MINUTES); it stops cleanly between batches. Undefined = no bound. */
    maxRunMs?: number;
    /** Sign out Disconnected sessions at the drain timeout (AVD_LOG_OFF_DISCONNECTED, default false). */
    logOffDisconnectedSessions: boolean;
    /** AVD_ROLLOUT_STRATEGY (default reimage) and, for surge, the configured capacity (AVD_CAPACITY) it returns the scale set to. */
    strategy: RolloutStrategyInput;
    /** The session hosts' subnet and VM size (AVD_SUBNET_ID, AVD_VM_SIZE), for the surge preflight. */
    subnet?: ResourceId;
    vmSize?: string;
    /** When hosts may be drained (AVD_ROLLOUT_WINDOW); undefined = at any time. */
    window?: RolloutWindow;
}

export type RolloutStrategyInput = { kind: "reimage"; pacing: RolloutPacing } | { kind: "surge"; capacity: number };

export type UpgradeMode = (typeof UPGRADE_MODES)[number];

export type GateInputs = Targets & GateSettings;

interface GateSettings {
    upgradeMode: UpgradeMode;
    maxLoginSeconds: number;
    loginProbe: boolean;
    maxCpuPercent: number;
    minFreeMemoryPercent: number;
    checkFslogix: boolean;
    /** GPU pools: the vendor whose driver every probed host must have loaded (AVD_GPU_VENDOR); undefined = no GPU check. */
    gpuVendor?: GpuVendor;
    timeoutMs: number;
    /** One host's Run Command probe (AVD_PROBE_TIMEOUT_MINUTES); Azure itself stops a script after 90 min. */
    probeTimeoutMs: number;
    pollMs: number;
}

const DEFAULT_MESSAGE_TITLE = "Session host maintenance";

function reader(env: NodeJS.ProcessEnv): EnvironmentReader {
    return new EnvironmentReader(env, (message) => new InputError(message));
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
    const r = reader(env);
    const vmss = typedId(
        r.required(V.vmssId, "the ARM id of the session-host scale set (/subscriptions/.../providers/Microsoft.Compute/virtualMachineScaleSets/<name>)"),
        "Microsoft.Compute/virtualMachineScaleSets",
        V.vmssId.name,
    );
    const hostPool = typedId(
        r.required(V.hostPoolId, "the ARM id of the AVD host pool (/subscriptions/.../providers/Microsoft.DesktopVirtualization/hostPools/<name>)"),
        "Microsoft.DesktopVirtualization/hostPools",
        V.hostPoolId.name,
    );
    const versionId = r.value(V.imageVersionId);
    const marketplaceImage = r.marketplaceImage(V.marketplaceImage);
    if (versionId !== undefined && marketplaceImage !== undefined) {
        throw new InputError(`${V.imageVersionId.name} and ${V.marketplaceImage.name} are both set: a pool runs a gallery image version or a marketplace image, so set exactly one.`);
    }
    if (marketplaceImage !== undefined) return { source: "marketplace", vmss, hostPool, marketplaceImage, imageVersion: marketplaceImage.version };
    const version = typedId(
        r.required(
            V.imageVersionId,
            `the ARM id of the target gallery image version (.../galleries/<g>/images/<def>/versions/<X.Y.Z>), or set ${V.marketplaceImage.name} (publisher:offer:sku:version) for a marketplace pool`,
        ),
        "Microsoft.Compute/galleries/images/versions",
        V.imageVersionId.name,
    );
    if (!GALLERY_VERSION_PATTERN.test(version.name)) {
        throw new InputError(`${V.imageVersionId.name} ends in "${version.name}", which is not a MAJOR.MINOR.PATCH gallery image version.`);
    }
    return { source: "gallery", vmss, hostPool, imageVersionId: version.id, imageDefinitionId: parentId(version), imageVersion: version.name };
}

export function readRolloutInputs(env: NodeJS.ProcessEnv): RolloutInputs {
    const targets = readTargets(env);
    const r = reader(env);
    const pauseMs = r.durationMs(V.pauseBetweenBatches);
    const body = r.text(V.drainMessageBody);
    const title = r.text(V.drainMessageTitle);
    const forceAsked = r.boolean(V.forceLogoff, false);
    const maxRunMinutes = r.optionalInteger(V.maxRunMinutes);
    const subnet = r.value(V.subnetId);
    const vmSize = r.text(V.vmSize);
    const window = readWindow(r);
    const strategy: RolloutStrategyInput =
        r.oneOf(V.rolloutStrategy, ROLLOUT_STRATEGIES, "reimage") === "surge" ? { kind: "surge", capacity: r.integer(V.capacity) } : { kind: "reimage", pacing: r.oneOf(V.rolloutPacing, ROLLOUT_PACINGS, "host") };
    if (strategy.kind === "surge") {
        const problem = surgeHeadroomProblem(strategy.capacity, r.integer(V.maxBatchPercent));
        if (problem) throw new InputError(`${V.rolloutStrategy.name}=surge with ${V.capacity.name}=${strategy.capacity}: ${problem}.`);
    }
    return {
        ...targets,
        policy: {
            maxBatchInstancePercent: r.integer(V.maxBatchPercent),
            maxUnhealthyInstancePercent: r.integer(V.maxUnhealthyPercent),
            maxUnhealthyUpgradedInstancePercent: r.integer(V.maxUnhealthyUpgradedPercent),
            prioritizeUnhealthyInstances: r.boolean(V.prioritizeUnhealthy, true),
        },
        pauseMs,
        drainTimeoutMs: r.integer(V.drainTimeoutMinutes) * 60_000,
        message: body ? { title: title ?? DEFAULT_MESSAGE_TITLE, body } : undefined,
        forceLogoff: forceAsked && body !== undefined,
        forceLogoffIgnored: forceAsked && body === undefined,
        pollMs: r.seconds(V.pollSeconds, 30),
        healthTimeoutMs: r.integer(V.healthTimeoutMinutes, 45) * 60_000,
        ...(maxRunMinutes === undefined ? {} : { maxRunMs: maxRunMinutes * 60_000 }),
        logOffDisconnectedSessions: r.boolean(V.logOffDisconnected, false),
        strategy,
        ...(subnet === undefined ? {} : { subnet: typedId(subnet, "Microsoft.Network/virtualNetworks/subnets", V.subnetId.name) }),
        ...(vmSize === undefined ? {} : { vmSize }),
        ...(window === undefined ? {} : { window }),
    };
}

function gpuVendor(r: EnvironmentReader): Pick<GateInputs, "gpuVendor"> {
    const vendor = r.optionalOneOf(V.gpuVendor, GPU_VENDORS);
    return vendor === undefined ? {} : { gpuVendor: vendor };
}

function readWindow(r: EnvironmentReader): RolloutWindow | undefined {
    const raw = r.json(V.rolloutWindow);
    if (raw === undefined) return undefined;
    const w = rolloutWindowFromJson(raw);
    if ("problem" in w) throw new InputError(`${V.rolloutWindow.name}: ${w.problem}.`);
    return w;
}

export function readGateInputs(env: NodeJS.ProcessEnv): GateInputs {
    const targets = readTargets(env);
    const r = reader(env);
    const probeTimeoutMinutes = r.integer(V.probeTimeoutMinutes, DEFAULTS.probeTimeoutMinutes);
    const timeoutMinutes = r.integer(V.gateTimeoutMinutes, 60);
    return {
        ...targets,
        upgradeMode: r.oneOf(V.upgradeMode, UPGRADE_MODES, "Manual"),
        maxLoginSeconds: r.integer(V.maxLoginSeconds, 30),
        loginProbe: r.boolean(V.loginProbe, false),
        maxCpuPercent: r.integer(V.maxCpuPercent, 80),
        minFreeMemoryPercent: r.integer(V.minFreeMemoryPercent, 20),
        checkFslogix: r.boolean(V.checkFslogix, true),
        ...gpuVendor(r),
        timeoutMs: timeoutMinutes * 60_000,
        probeTimeoutMs: probeTimeoutMinutes * 60_000,
        pollMs: r.seconds(V.pollSeconds, 30),
    };
}
