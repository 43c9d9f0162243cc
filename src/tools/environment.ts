// The contract between the program and its deploy-time tools: every AVD_* variable the rollout
// (tools/rollout.ts), the health gate (tools/healthGate.ts), the build trigger
// (tools/buildImage.ts) and gallery retention (tools/retention.ts) read, with its rule. The config parser takes its ranges from here, the
// components' environment builders take the names, and the tools' parsers read with the functions
// below, so a value the preview accepts is a value the tool accepts (tests/toolEnvironment.test.ts
// sweeps the whole range of each setting through all three).
import { readIsoDuration } from "../../policy/lib/duration";

export interface IntegerRange {
    min: number;
    max: number;
}

/** Ranges shared by a config key and the variable it becomes. */
export const LIMITS = {
    // Compute REST spec 2024-11-01, RollingUpgradePolicy (minimum/maximum).
    maxBatchInstancePercent: { min: 5, max: 100 },
    maxUnhealthyInstancePercent: { min: 5, max: 100 },
    maxUnhealthyUpgradedInstancePercent: { min: 0, max: 100 },
    /** How long the rollout waits for sessions to end on a draining host (0 = no wait). */
    drainTimeoutMinutes: { min: 0, max: 1440 },
    /** Overall bound on one rollout run: 10 minutes to 7 days. */
    maxRunMinutes: { min: 10, max: 10080 },
    maxLoginSeconds: { min: 1, max: 600 },
    maxCpuPercent: { min: 1, max: 100 },
    minFreeMemoryPercent: { min: 0, max: 99 },
    /** One Run Command probe round on a host; Run Command itself gives up after 90 minutes. */
    probeTimeoutMinutes: { min: 1, max: 90 },
    /** The health gate's overall deadline: at most 7 days. */
    gateTimeoutMinutes: { min: 1, max: 10080 },
    /** Image Builder REST spec 2024-02-01, buildTimeoutInMinutes (0 = Image Builder's 4 h default). */
    buildTimeoutMinutes: { min: 0, max: 960 },
    /** How long hosts get to report healthy after an upgrade (tool default 45). */
    healthTimeoutMinutes: { min: 1, max: 1440 },
    /**
     * Gallery retention: newest versions kept per image. At least 1, so the version just built
     * (what `versions/latest` resolves to) always stays; pins, validated versions and rollback
     * targets are kept on top. 100 is far above seed 001's 3-6: more keeps every version.
     */
    retentionKeep: { min: 1, max: 100 },
    /** Gallery retention's own deadline: deleting a replicated version takes minutes per region. */
    retentionDeadlineMinutes: { min: 5, max: 720 },
} as const satisfies Record<string, IntegerRange>;

/** Defaults shared by a config key and the tool reading its variable when it is unset. */
export const DEFAULTS = {
    probeTimeoutMinutes: 10,
    retentionKeep: 5,
    retentionDeadlineMinutes: 60,
} as const;

export type VariableKind = "resourceId" | "integer" | "boolean" | "duration" | "enum" | "text" | "sha256" | "seconds" | "marketplaceImage" | "versionList" | "ringPins" | "json";

export interface Variable {
    name: string;
    kind: VariableKind;
    range?: IntegerRange;
    values?: readonly string[];
    /** Integers: what one unit is ("minutes"), for messages. */
    unit?: string;
    /** Text only: a line break is allowed (message bodies). */
    multiLine?: boolean;
    /** A Pulumi secret in the command's environment (encrypted in state, [secret] in previews); never printed. */
    secret?: boolean;
}

const integer = (name: string, range: IntegerRange): Variable => {
    const unit = /_MINUTES$/.test(name) ? "minutes" : /_SECONDS$/.test(name) ? "seconds" : /_PERCENT$/.test(name) ? "percent" : undefined;
    return { name, kind: "integer", range, ...(unit ? { unit } : {}) };
};
const boolean = (name: string): Variable => ({ name, kind: "boolean" });

export const UPGRADE_MODES = ["Manual", "Rolling", "Automatic"] as const;
/** How a Manual ring's rollout replaces hosts (docs/rollout.md "Strategies"): reimage in place, or add new hosts before removing old ones. */
export const ROLLOUT_STRATEGIES = ["reimage", "surge"] as const;
/** How a reimage rollout paces its hosts (docs/rollout.md "Pacing"): each host as a slot frees (host), or lockstep batches (batch). Surge is always paced by host. */
export const ROLLOUT_PACINGS = ["host", "batch"] as const;
/** A Uniform scale set from a gallery image holds 1 to 1000 instances (the config's sessionHosts.capacity). */
export const CAPACITY_RANGE: IntegerRange = { min: 1, max: 1000 };
/** A GPU pool's GPU vendor (sessionHosts.gpu); unset on pools without a GPU. */
export const GPU_VENDORS = ["nvidia", "amd"] as const;

/** Webhook payload shapes (tools/shared/notify.ts); "auto" picks one from the URL's host. */
export const NOTIFICATION_FORMATS = ["auto", "teams", "slack", "generic"] as const;
export type NotificationFormat = (typeof NOTIFICATION_FORMATS)[number];

/** A Uniform scale set holds at most 1,000 instances (Compute refuses a larger sku.capacity). */
export const MAX_SCALE_SET_INSTANCES = 1000;

/**
 * A surge adds up to one step (maxBatchInstancePercent of capacity, at least one host) above the
 * capacity; the problem in words when that would pass the scale set's limit. The config parser and
 * the rollout tool both refuse with it, so no surge is started that Azure would stop part-way.
 */
export function surgeHeadroomProblem(capacity: number, maxBatchInstancePercent: number): string | undefined {
    const step = Math.max(1, Math.floor((capacity * maxBatchInstancePercent) / 100));
    if (capacity + step <= MAX_SCALE_SET_INSTANCES) return undefined;
    return `a surge adds up to ${step} host(s) above the capacity of ${capacity}, but a scale set holds at most ${MAX_SCALE_SET_INSTANCES} instances; lower capacity to ${MAX_SCALE_SET_INSTANCES - step} or less, lower maxBatchInstancePercent, or use strategy: reimage`;
}

/** Every variable by its role; `name` is what the environment holds. */
export const AVD_ENV = {
    vmssId: { name: "AVD_VMSS_ID", kind: "resourceId" },
    hostPoolId: { name: "AVD_HOST_POOL_ID", kind: "resourceId" },
    imageVersionId: { name: "AVD_IMAGE_VERSION_ID", kind: "resourceId" },
    /** `publisher:offer:sku:version` of a marketplace pool, instead of AVD_IMAGE_VERSION_ID: exactly one of the two is set. */
    marketplaceImage: { name: "AVD_MARKETPLACE_IMAGE", kind: "marketplaceImage" },
    maxBatchPercent: integer("AVD_MAX_BATCH_PERCENT", LIMITS.maxBatchInstancePercent),
    maxUnhealthyPercent: integer("AVD_MAX_UNHEALTHY_PERCENT", LIMITS.maxUnhealthyInstancePercent),
    maxUnhealthyUpgradedPercent: integer("AVD_MAX_UNHEALTHY_UPGRADED_PERCENT", LIMITS.maxUnhealthyUpgradedInstancePercent),
    pauseBetweenBatches: { name: "AVD_PAUSE_BETWEEN_BATCHES", kind: "duration" },
    prioritizeUnhealthy: boolean("AVD_PRIORITIZE_UNHEALTHY"),
    drainTimeoutMinutes: integer("AVD_DRAIN_TIMEOUT_MINUTES", LIMITS.drainTimeoutMinutes),
    drainMessageTitle: { name: "AVD_DRAIN_MESSAGE_TITLE", kind: "text" },
    drainMessageBody: { name: "AVD_DRAIN_MESSAGE_BODY", kind: "text", multiLine: true },
    forceLogoff: boolean("AVD_FORCE_LOGOFF"),
    logOffDisconnected: boolean("AVD_LOG_OFF_DISCONNECTED"),
    maxRunMinutes: integer("AVD_MAX_RUN_MINUTES", LIMITS.maxRunMinutes),
    rolloutStrategy: { name: "AVD_ROLLOUT_STRATEGY", kind: "enum", values: ROLLOUT_STRATEGIES },
    /** A reimage rollout's pacing (default host); a surge ignores it. */
    rolloutPacing: { name: "AVD_ROLLOUT_PACING", kind: "enum", values: ROLLOUT_PACINGS },
    /** The scale set's configured capacity: what a surge rollout returns sku.capacity to. */
    capacity: integer("AVD_CAPACITY", CAPACITY_RANGE),
    healthTimeoutMinutes: integer("AVD_HEALTH_TIMEOUT_MINUTES", LIMITS.healthTimeoutMinutes),
    pollSeconds: { name: "AVD_POLL_SECONDS", kind: "seconds" },
    upgradeMode: { name: "AVD_UPGRADE_MODE", kind: "enum", values: UPGRADE_MODES },
    maxLoginSeconds: integer("AVD_MAX_LOGIN_SECONDS", LIMITS.maxLoginSeconds),
    loginProbe: boolean("AVD_LOGIN_PROBE"),
    maxCpuPercent: integer("AVD_MAX_CPU_PERCENT", LIMITS.maxCpuPercent),
    minFreeMemoryPercent: integer("AVD_MIN_FREE_MEMORY_PERCENT", LIMITS.minFreeMemoryPercent),
    checkFslogix: boolean("AVD_CHECK_FSLOGIX"),
    gateTimeoutMinutes: integer("AVD_GATE_TIMEOUT_MINUTES", LIMITS.gateTimeoutMinutes),
    probeTimeoutMinutes: integer("AVD_PROBE_TIMEOUT_MINUTES", LIMITS.probeTimeoutMinutes),
    gpuVendor: { name: "AVD_GPU_VENDOR", kind: "enum", values: GPU_VENDORS },
    imageTemplateId: { name: "AVD_IMAGE_TEMPLATE_ID", kind: "resourceId" },
    galleryImageVersionId: { name: "AVD_GALLERY_IMAGE_VERSION_ID", kind: "resourceId" },
    contentHash: { name: "AVD_CONTENT_HASH", kind: "sha256" },
    buildTimeoutMinutes: integer("AVD_BUILD_TIMEOUT_MINUTES", LIMITS.buildTimeoutMinutes),
    /** The session hosts' subnet and VM size: the surge preflight checks free addresses and vCPU quota for them. */
    subnetId: { name: "AVD_SUBNET_ID", kind: "resourceId" },
    vmSize: { name: "AVD_VM_SIZE", kind: "text" },
    /** sessionHosts.rollout.window as JSON (src/config/window.ts); unset = drain at any time. */
    rolloutWindow: { name: "AVD_ROLLOUT_WINDOW", kind: "json" },
    // Notifications (all three tools, only when avd-image-rings:notifications is set).
    notifyWebhookUrl: { name: "AVD_NOTIFY_WEBHOOK_URL", kind: "text", secret: true },
    notifyFormat: { name: "AVD_NOTIFY_FORMAT", kind: "enum", values: NOTIFICATION_FORMATS },
    /** The ring (stack) a message names. */
    ring: { name: "AVD_RING", kind: "text" },
    imageDefinitionId: { name: "AVD_IMAGE_DEFINITION_ID", kind: "resourceId" },
    retentionKeep: integer("AVD_RETENTION_KEEP", LIMITS.retentionKeep),
    /** The plan's deletions, "1.0.0,1.1.0" or "none": the tool deletes nothing outside it. */
    retentionPlanned: { name: "AVD_RETENTION_PLANNED", kind: "versionList" },
    /** What every protect stack pins and validated, as JSON (src/lifecycle/retention.ts formatRingPins). */
    retentionPins: { name: "AVD_RETENTION_PINS", kind: "ringPins" },
    retentionDeadlineMinutes: integer("AVD_RETENTION_DEADLINE_MINUTES", LIMITS.retentionDeadlineMinutes),
} as const satisfies Record<string, Variable>;

/** A marketplace (platform) image, as a scale set's storageProfile.imageReference names it. */
export interface MarketplaceImageRef {
    publisher: string;
    offer: string;
    sku: string;
    /** `Major.Minor.Build` or `latest`. */
    version: string;
}

/**
 * Publisher, offer and SKU: letters, digits, `.`, `-` and `_` (what `az vm image list` shows, e.g.
 * MicrosoftWindowsDesktop / office-365 / win11-24h2-avd-m365); no `:`, which separates the parts.
 */
const MARKETPLACE_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** "The allowed formats are Major.Minor.Build or 'latest'" (Compute spec 2024-11-01, ImageReference.version). */
export const MARKETPLACE_VERSION = /^(?:\d+\.\d+\.\d+|latest)$/i;

/** `publisher:offer:sku:version`, the URN form `az vm image list` prints and AVD_MARKETPLACE_IMAGE holds. */
export function formatMarketplaceImage(image: MarketplaceImageRef): string {
    return `${image.publisher}:${image.offer}:${image.sku}:${image.version}`;
}

/** `publisher:offer:sku:version` read back, or what is wrong with it in words (for `"<text>" <problem>`). */
export function parseMarketplaceImage(text: string): MarketplaceImageRef | { problem: string } {
    const parts = text.split(":");
    if (parts.length !== 4) return { problem: "is not publisher:offer:sku:version (four parts separated by ':')" };
    const [publisher, offer, sku, version] = parts;
    const names = ["publisher", "offer", "sku"] as const;
    for (let i = 0; i < names.length; i++) {
        if (!MARKETPLACE_PART.test(parts[i])) return { problem: `has an invalid ${names[i]} "${parts[i]}" (letters, digits, '.', '-' and '_')` };
    }
    if (!MARKETPLACE_VERSION.test(version)) return { problem: `has version "${version}", which is neither Major.Minor.Build nor latest` };
    return { publisher, offer, sku, version: /^latest$/i.test(version) ? "latest" : version };
}

/**
 * Control characters no value may hold: NUL and the other C0 controls except tab (and line feed
 * where a value may span lines), and DEL. A NUL cuts an environment variable short; the others end
 * up as invisible garbage in a script line, a message to users or an Azure property.
 */
export function controlCharacterProblem(text: string, multiLine = false): string | undefined {
    const bad = multiLine ? /[\u0000-\u0008\u000b-\u001f\u007f]/ : /[\u0000-\u0008\u000a-\u001f\u007f]/;
    const hit = bad.exec(text);
    if (!hit) return undefined;
    const code = hit[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    return `holds the control character U+${code} at position ${hit.index + 1}${multiLine ? "" : " (a value here is one line)"}; remove it`;
}

/** Reads AVD_* variables by their contract; `fail` builds the tool's own bad-input error. */
export class EnvironmentReader {
    constructor(
        private readonly env: NodeJS.ProcessEnv,
        private readonly fail: (message: string) => Error,
    ) {}

    /** The trimmed value, or undefined when unset or blank. */
    value(v: Variable): string | undefined {
        const raw = this.env[v.name]?.trim();
        return raw ? raw : undefined;
    }

    required(v: Variable, hint: string): string {
        const raw = this.value(v);
        if (raw === undefined) throw this.fail(`${v.name} is not set: it must be ${hint}.`);
        return raw;
    }

    integer(v: Variable, fallback?: number): number {
        const range = v.range;
        if (!range) throw new Error(`${v.name} has no range in the contract`);
        const raw = this.value(v);
        const hint = `a whole number${v.unit && v.unit !== "percent" ? ` of ${v.unit}` : ""} from ${range.min} to ${range.max}`;
        if (raw === undefined) {
            if (fallback !== undefined) return fallback;
            throw this.fail(`${v.name} is not set: it must be ${hint}.`);
        }
        if (!/^\d+$/.test(raw) || Number(raw) < range.min || Number(raw) > range.max) throw this.fail(`${v.name} must be ${hint}, got "${raw}".`);
        return Number(raw);
    }

    optionalInteger(v: Variable): number | undefined {
        return this.value(v) === undefined ? undefined : this.integer(v);
    }

    boolean(v: Variable, fallback: boolean): boolean {
        const raw = this.value(v);
        if (raw === undefined) return fallback;
        if (/^true$/i.test(raw)) return true;
        if (/^false$/i.test(raw)) return false;
        throw this.fail(`${v.name} must be "true" or "false", got "${raw}".`);
    }

    durationMs(v: Variable): number {
        const raw = this.required(v, 'an ISO 8601 duration such as "PT10M"');
        const r = readIsoDuration(raw);
        if ("problem" in r) throw this.fail(`${v.name}: "${raw}" ${r.problem}.`);
        return r.ms;
    }

    seconds(v: Variable, fallback: number): number {
        const raw = this.value(v) ?? String(fallback);
        if (!/^\d+(\.\d+)?$/.test(raw) || !(Number(raw) > 0)) throw this.fail(`${v.name} must be a positive number of seconds, got "${raw}".`);
        return Number(raw) * 1000;
    }

    oneOf<T extends string>(v: Variable, values: readonly T[], fallback: T): T {
        const raw = this.value(v) ?? fallback;
        const hit = values.find((x) => x === raw);
        if (hit === undefined) throw this.fail(`${v.name} must be ${values.join(", ")}, got "${raw}".`);
        return hit;
    }

    marketplaceImage(v: Variable): MarketplaceImageRef | undefined {
        const raw = this.value(v);
        if (raw === undefined) return undefined;
        const image = parseMarketplaceImage(raw);
        if ("problem" in image) throw this.fail(`${v.name}: "${raw}" ${image.problem}.`);
        return image;
    }

    /** An enum variable that may be unset (undefined then). */
    optionalOneOf<T extends string>(v: Variable, values: readonly T[]): T | undefined {
        const raw = this.value(v);
        if (raw === undefined) return undefined;
        const hit = values.find((x) => x === raw);
        if (hit === undefined) throw this.fail(`${v.name} must be ${values.join(", ")} or unset, got "${raw}".`);
        return hit;
    }

    /** The parsed JSON value, or undefined when unset. */
    json(v: Variable): unknown {
        const raw = this.value(v);
        if (raw === undefined) return undefined;
        try {
            return JSON.parse(raw) as unknown;
        } catch {
            throw this.fail(`${v.name} must be JSON, got "${raw}".`);
        }
    }

    text(v: Variable): string | undefined {
        const raw = this.value(v);
        if (raw === undefined) return undefined;
        const problem = controlCharacterProblem(raw, v.multiLine);
        if (problem) throw this.fail(`${v.name} ${problem}.`);
        return raw;
    }
}

/** Minutes one batch of Azure's rolling upgrade may take (reimage, boot, extensions, health). */
export const PER_BATCH_UPGRADE_MINUTES = 20;
/** Minutes the hosts get to settle (agent registration, AVD status) when no probe needs longer. */
export const SETTLE_MINUTES = 30;
/** Time the gate needs beside one probe round: listing hosts and waiting for their AVD status. */
export const PROBE_ROUND_OVERHEAD_MINUTES = 20;
/** A Manual ring's gate runs after the rollout has finished: it only waits for hosts to report. */
export const MANUAL_GATE_MINUTES = 60;

/** Minutes Azure's rolling upgrade of a whole scale set may take: one upgrade plus the pause per batch. */
export function rollingUpgradeMinutes(capacity: number, maxBatchInstancePercent: number, pauseMs: number): number {
    const perBatch = Math.max(1, Math.floor((capacity * maxBatchInstancePercent) / 100));
    const batches = Math.ceil(capacity / perBatch);
    return Math.ceil(batches * (PER_BATCH_UPGRADE_MINUTES + pauseMs / 60_000));
}

/**
 * The health gate's overall timeout. Its deadline bounds the probes too, so after Azure's part
 * (nothing in Manual rings, which the rollout has finished; the whole rolling upgrade otherwise)
 * it always leaves room for a full probe round plus the hosts reporting Available. The config
 * refuses settings whose result exceeds LIMITS.gateTimeoutMinutes.max, so this always lands
 * inside the gate's range.
 */
export function gateTimeoutMinutesFor(s: { upgradeMode: string; capacity: number; maxBatchInstancePercent: number; pauseMs: number; probeTimeoutMinutes: number }): number {
    const settleAndProbe = Math.max(SETTLE_MINUTES, s.probeTimeoutMinutes + PROBE_ROUND_OVERHEAD_MINUTES);
    if (s.upgradeMode === "Manual") return Math.max(MANUAL_GATE_MINUTES, settleAndProbe);
    return rollingUpgradeMinutes(s.capacity, s.maxBatchInstancePercent, s.pauseMs) + settleAndProbe;
}
