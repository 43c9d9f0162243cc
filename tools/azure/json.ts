// Narrowing helpers for ARM JSON: responses are `unknown` until a caller has checked the
// shape it relies on, so a missing or renamed property fails with a message, not a crash.

export type JsonRecord = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonRecord {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Follows a dotted path (`properties.lastRunStatus.runState`) through nested objects. */
export function at(value: unknown, path: string): unknown {
    let current: unknown = value;
    for (const key of path.split(".")) {
        if (!isRecord(current)) return undefined;
        current = current[key];
    }
    return current;
}

export function optionalString(value: unknown, path: string): string | undefined {
    const v = at(value, path);
    return typeof v === "string" ? v : undefined;
}

export function optionalNumber(value: unknown, path: string): number | undefined {
    const v = at(value, path);
    return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

export function optionalRecord(value: unknown, path: string): JsonRecord | undefined {
    const v = at(value, path);
    return isRecord(v) ? v : undefined;
}

export function optionalArray(value: unknown, path: string): unknown[] | undefined {
    const v = at(value, path);
    return Array.isArray(v) ? v : undefined;
}

export function requireString(value: unknown, path: string, what: string): string {
    const v = optionalString(value, path);
    if (v === undefined) throw new Error(`${what}: the response has no string at "${path}"`);
    return v;
}

/** A string-valued map such as ARM `tags`; non-string entries are dropped. */
export function stringMap(value: unknown, path: string): Record<string, string> {
    const record = optionalRecord(value, path) ?? {};
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(record)) {
        if (typeof v === "string") out[k] = v;
    }
    return out;
}

/** Case-insensitive key lookup: ARM treats tag names case-insensitively. */
export function getCaseInsensitive(map: Record<string, string>, key: string): string | undefined {
    const lower = key.toLowerCase();
    for (const [k, v] of Object.entries(map)) {
        if (k.toLowerCase() === lower) return v;
    }
    return undefined;
}
