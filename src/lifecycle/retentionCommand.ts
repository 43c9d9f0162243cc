// What the GalleryRetention component hands tools/retention.ts and reads back: the command line,
// its non-secret AVD_* environment (the plan, the rings' pins, keep, deadline), and the parsing of
// the tool's last stdout line (docs/ARCHITECTURE.md "Deploy-time tools").
import * as semver from "semver";
import { AVD_ENV as V } from "../tools/environment";
import { toolResultObject, toolResultProblem } from "../tools/toolResult";
import type { RingPin } from "./retention";

/** Gallery versions are three integers without leading zeros (as tools/shared/tool.ts GALLERY_VERSION_PATTERN). */
const VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

export const RETENTION_COMMAND = "node_modules/.bin/tsx tools/retention.ts";

/** Written in AVD_RETENTION_PLANNED when the plan deletes nothing (an empty variable reads as unset). */
export const NO_DELETIONS = "none";

export function formatPlanned(versions: readonly string[]): string {
    return versions.length === 0 ? NO_DELETIONS : [...versions].sort(semver.compare).join(",");
}

/** The planned deletions, or the problem with the text. */
export function parsePlanned(text: string): string[] | { problem: string } {
    if (text.trim() === NO_DELETIONS) return [];
    const versions = text.split(",").map((v) => v.trim());
    const bad = versions.find((v) => !VERSION.test(v));
    if (bad !== undefined) return { problem: `must be "${NO_DELETIONS}" or MAJOR.MINOR.PATCH versions separated by commas, got ${JSON.stringify(bad)}` };
    return versions;
}

/** The rings' pins as one line of JSON: `[{"ring": "...", "imageVersion": "1.2.0", "validatedImageVersion": "1.2.0"}]`. */
export function formatRingPins(pins: readonly RingPin[]): string {
    return JSON.stringify(pins.map((p) => ({ ring: p.ring, ...(p.imageVersion ? { imageVersion: p.imageVersion } : {}), ...(p.validatedImageVersion ? { validatedImageVersion: p.validatedImageVersion } : {}) })));
}

export function parseRingPins(text: string): RingPin[] | { problem: string } {
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch {
        return { problem: "is not JSON" };
    }
    if (!Array.isArray(parsed)) return { problem: "must be a JSON list of {ring, imageVersion, validatedImageVersion}" };
    const pins: RingPin[] = [];
    for (const [i, item] of parsed.entries()) {
        const o = item as Record<string, unknown> | null;
        if (o === null || typeof o !== "object" || typeof o.ring !== "string" || o.ring === "") return { problem: `item ${i} has no "ring" name` };
        for (const key of ["imageVersion", "validatedImageVersion"] as const) {
            const v = o[key];
            if (v !== undefined && (typeof v !== "string" || !VERSION.test(v))) return { problem: `item ${i} (${o.ring}) has ${key} ${JSON.stringify(v)}, not a MAJOR.MINOR.PATCH version` };
        }
        pins.push({ ring: o.ring, imageVersion: o.imageVersion as string | undefined, validatedImageVersion: o.validatedImageVersion as string | undefined });
    }
    return pins;
}

export interface RetentionTargets {
    imageDefinitionId: string;
    plannedDeletions: readonly string[];
    pins: readonly RingPin[];
}

export function retentionEnvironment(settings: { keep: number; deadlineMinutes: number }, t: RetentionTargets): Record<string, string> {
    return {
        [V.imageDefinitionId.name]: t.imageDefinitionId,
        [V.retentionKeep.name]: String(settings.keep),
        [V.retentionPlanned.name]: formatPlanned(t.plannedDeletions),
        [V.retentionPins.name]: formatRingPins(t.pins),
        [V.retentionDeadlineMinutes.name]: String(settings.deadlineMinutes),
    };
}

/** tools/retention.ts's result: the last line of its stdout. */
export interface RetentionResult {
    imageDefinitionId: string;
    /** What the plan listed. */
    planned: string[];
    deleted: string[];
    /** Planned versions left alone, with why (the live check kept them, or the deadline came first). */
    skipped: Array<{ version: string; reason: string }>;
    /** Deletions Azure refused or that did not finish: reported, never fatal. */
    failed: Array<{ version: string; error: string }>;
    /** Set when the gallery could not be read at all; nothing was deleted then. */
    error?: string;
}

function fail(problem: string, stdout: string): never {
    return toolResultProblem("tools/retention.ts", problem, stdout);
}

export function parseRetentionResult(stdout: string): RetentionResult {
    const r = toolResultObject("tools/retention.ts", stdout);
    const strings = (key: string): string[] => {
        const v = r[key];
        if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) fail(`its result has no "${key}" list of versions`, stdout);
        return v as string[];
    };
    const pairs = <K extends string>(key: string, field: K): Array<{ version: string } & Record<K, string>> => {
        const v = r[key];
        if (!Array.isArray(v) || v.some((x) => typeof x?.version !== "string" || typeof x?.[field] !== "string")) fail(`its result has no "${key}" list of {version, ${field}}`, stdout);
        return (v as Array<Record<string, string>>).map((x) => ({ version: x.version, [field]: x[field] }) as { version: string } & Record<K, string>);
    };
    if (typeof r.imageDefinitionId !== "string") fail('its result has no string "imageDefinitionId"', stdout);
    return {
        imageDefinitionId: r.imageDefinitionId,
        planned: strings("planned"),
        deleted: strings("deleted"),
        skipped: pairs("skipped", "reason"),
        failed: pairs("failed", "error"),
        ...(typeof r.error === "string" ? { error: r.error } : {}),
    };
}
