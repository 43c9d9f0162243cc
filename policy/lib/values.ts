// Narrowing helpers for resource properties. Policies receive plain JSON (wrapped by
// @pulumi/policy in a proxy that throws when a value is unknown during preview), so every
// read goes through these helpers and touches only the path it needs: reading an unrelated
// unknown value would needlessly downgrade a mandatory policy to advisory.

export type Props = Record<string, unknown>;

export function asRecord(value: unknown): Props | undefined {
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Props) : undefined;
}

export function asArray(value: unknown): unknown[] {
    return Array.isArray(value) ? value : [];
}

export function asString(value: unknown): string | undefined {
    return typeof value === "string" ? value : undefined;
}

export function asNumber(value: unknown): number | undefined {
    return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function asBoolean(value: unknown): boolean | undefined {
    return typeof value === "boolean" ? value : undefined;
}

/** Follows `path` through nested objects; undefined as soon as a step is missing. */
export function getPath(value: unknown, ...path: string[]): unknown {
    let current: unknown = value;
    for (const key of path) {
        const obj = asRecord(current);
        if (!obj) return undefined;
        current = obj[key];
    }
    return current;
}

/** Every string inside `value` (recursively), with its JSON-ish path, for sections scanned whole. */
export function stringsIn(value: unknown, path = ""): Array<{ path: string; value: string }> {
    if (typeof value === "string") return [{ path, value }];
    if (Array.isArray(value)) return value.flatMap((v, i) => stringsIn(v, `${path}[${i}]`));
    const obj = asRecord(value);
    if (!obj) return [];
    return Object.keys(obj).flatMap((k) => stringsIn(obj[k], path ? `${path}.${k}` : k));
}

/** Shortens a script line for a violation message. */
export function excerpt(text: string, max = 140): string {
    const t = text.trim().replace(/\s+/g, " ");
    return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}
