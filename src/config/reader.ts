import * as pulumi from "@pulumi/pulumi";
import { controlCharacterProblem } from "../tools/environment";

/** Where a configuration mistake is: the file the user edits and the full key in it. */
export interface ConfigLocation {
    file: string;
    key?: string;
}

/**
 * A configuration mistake. Extends RunError so the Pulumi CLI prints only the message
 * (no stack trace); the offline preview maps it to exit code 2 and prints `file` and `key`.
 */
export class ConfigError extends pulumi.RunError {
    readonly file?: string;
    readonly key?: string;

    constructor(message: string, where?: ConfigLocation) {
        super(message);
        this.name = "ConfigError";
        this.file = where?.file;
        this.key = where?.key;
    }
}

type Json = unknown;

/** A string key's rule: a pattern with its hint; `multiLine` allows line breaks. */
export interface StringRule {
    pattern: RegExp;
    hint: string;
    multiLine?: boolean;
}

/** Shown in place of the value of a secret key: a message never echoes a secret. */
export const SECRET_VALUE = "a secret value";

function describe(value: Json, secret = false): string {
    if (secret) return SECRET_VALUE;
    if (value === null) return "null";
    if (Array.isArray(value)) return "a list";
    if (typeof value === "object") return "an object";
    return JSON.stringify(value);
}

/** Levenshtein distance, case-insensitive; small and exact, no library needed for a few dozen keys. */
export function editDistance(a: string, b: string): number {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
    for (let i = 1; i <= x.length; i++) {
        const row = [i];
        for (let j = 1; j <= y.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
        prev = row;
    }
    return prev[y.length];
}

/** The candidate a misspelt name most likely means: same letters in another case, or a few edits away. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
    const limit = Math.max(1, Math.min(3, Math.floor(name.length / 3)));
    let best: { c: string; d: number } | undefined;
    for (const c of candidates) {
        const d = editDistance(name, c);
        if (d <= limit && (!best || d < best.d)) best = { c, d };
    }
    return best?.c;
}

/**
 * Reads one object of raw config, remembering the path, so every error names the stack
 * file and the full key: `Pulumi.prod.yaml: avd-image-rings:sessionHosts.osDiskSizeGb ...`.
 */
export class Reader {
    private readonly seen = new Set<string>();

    constructor(
        readonly file: string,
        readonly path: string,
        private readonly value: Record<string, Json>,
        /** Which keys hold secrets (full key of this object's children); their values are never shown. */
        private readonly isSecret: (key: string) => boolean = () => false,
    ) {}

    static root(file: string, namespace: string, values: Record<string, Json>, isSecret?: (key: string) => boolean): Reader {
        return new Reader(file, `${namespace}:`, values, isSecret);
    }

    private key(name: string): string {
        return this.path.endsWith(":") ? `${this.path}${name}` : `${this.path}.${name}`;
    }

    /** A child reader for an object met inside this one (list items, map values). */
    child(name: string, value: Record<string, Json>): Reader {
        const secret = this.isSecret(this.key(name));
        return new Reader(this.file, this.key(name), value, secret ? () => true : this.isSecret);
    }

    fail(name: string, problem: string): never {
        throw new ConfigError(`${this.file}: ${this.key(name)} ${problem}`, { file: this.file, key: this.key(name) });
    }

    /** The value in a message: quoted, or "a secret value" under a secret key. */
    show(name: string, value: Json): string {
        return describe(value, this.isSecret(this.key(name)));
    }

    has(name: string): boolean {
        // An empty string counts as unset: Pulumi.yaml declares optional keys with default "".
        const v = this.value[name];
        return v !== undefined && v !== null && v !== "";
    }

    private raw(name: string): Json {
        this.seen.add(name);
        return this.value[name];
    }

    private need(name: string): Json {
        const v = this.raw(name);
        if (v === undefined || v === null) this.fail(name, "is required");
        return v;
    }

    str(name: string, rule?: StringRule): string {
        const v = this.need(name);
        if (typeof v !== "string") this.fail(name, `must be a string, got ${this.show(name, v)}`);
        if (v.trim() === "") this.fail(name, "must not be empty");
        const control = controlCharacterProblem(v, rule?.multiLine);
        if (control) this.fail(name, control);
        if (rule && !rule.pattern.test(v)) this.fail(name, `${rule.hint}, got ${this.show(name, v)}`);
        return v;
    }

    optStr(name: string, rule?: StringRule): string | undefined {
        return this.has(name) ? this.str(name, rule) : (this.raw(name), undefined);
    }

    strOr(name: string, fallback: string, rule?: StringRule): string {
        return this.optStr(name, rule) ?? fallback;
    }

    oneOf<T extends string>(name: string, allowed: readonly T[], fallback?: T): T {
        if (!this.has(name) && fallback !== undefined) return (this.raw(name), fallback);
        const v = this.need(name);
        const hit = allowed.find((a) => a === v);
        if (hit === undefined) {
            const caseHit = typeof v === "string" ? allowed.find((a) => a.toLowerCase() === v.toLowerCase()) : undefined;
            const hint = caseHit ? ` (did you mean "${caseHit}"? values are case-sensitive)` : "";
            this.fail(name, `must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${this.show(name, v)}${hint}`);
        }
        return hit;
    }

    int(name: string, range: { min: number; max: number }, fallback?: number): number {
        if (!this.has(name) && fallback !== undefined) return (this.raw(name), fallback);
        let v = this.need(name);
        // Stack files written by `pulumi config set` hold numbers as strings.
        if (typeof v === "string" && /^-?\d+$/.test(v.trim())) v = Number(v.trim());
        if (typeof v !== "number" || !Number.isInteger(v)) this.fail(name, `must be an integer, got ${this.show(name, v)}`);
        if (v < range.min || v > range.max) this.fail(name, `must be between ${range.min} and ${range.max}, got ${this.show(name, v)}`);
        return v;
    }

    optInt(name: string, range: { min: number; max: number }): number | undefined {
        return this.has(name) ? this.int(name, range) : (this.raw(name), undefined);
    }

    bool(name: string, fallback: boolean): boolean {
        if (!this.has(name)) return (this.raw(name), fallback);
        const v = this.raw(name);
        if (v === "true" || v === true) return true;
        if (v === "false" || v === false) return false;
        this.fail(name, `must be true or false, got ${this.show(name, v)}`);
    }

    obj(name: string): Reader {
        const v = this.need(name);
        if (typeof v !== "object" || Array.isArray(v) || v === null) this.fail(name, `must be an object, got ${this.show(name, v)}`);
        return this.child(name, v as Record<string, Json>);
    }

    optObj(name: string): Reader | undefined {
        return this.has(name) ? this.obj(name) : (this.raw(name), undefined);
    }

    /** An object used as a map: the caller gets keys in the order the stack file lists them. */
    entries(name: string): Array<[string, Json, Reader]> {
        if (!this.has(name)) return (this.raw(name), []);
        const map = this.obj(name);
        return Object.entries(map.value).map(([k, v]) => [k, v, map] as [string, Json, Reader]);
    }

    list(name: string): Json[] {
        if (!this.has(name)) return (this.raw(name), []);
        const v = this.raw(name);
        if (!Array.isArray(v)) this.fail(name, `must be a list, got ${this.show(name, v)}`);
        return v;
    }

    strList(name: string, rule?: { pattern: RegExp; hint: string }): string[] {
        return this.list(name).map((item, i) => {
            const key = `${name}[${i}]`;
            if (typeof item !== "string" || item.trim() === "") this.fail(key, `must be a non-empty string, got ${this.show(key, item)}`);
            const control = controlCharacterProblem(item);
            if (control) this.fail(key, control);
            if (rule && !rule.pattern.test(item)) this.fail(key, `${rule.hint}, got ${this.show(key, item)}`);
            return item;
        });
    }

    stringMap(name: string): Record<string, string> {
        const out: Record<string, string> = {};
        for (const [k, v, map] of this.entries(name)) {
            const text = typeof v === "string" ? v : map.fail(k, `must be a string, got ${map.show(k, v)}`);
            const control = controlCharacterProblem(text);
            if (control) map.fail(k, control);
            out[k] = text;
        }
        return out;
    }

    /** Names a sub-key of this object in an error (for values read through `entries`). */
    sub(name: string): string {
        return this.key(name);
    }

    /** Refuses keys nobody read: a typo such as `osDiskSizeGB` must not be silently ignored. */
    done(): void {
        for (const k of Object.keys(this.value)) {
            if (!this.seen.has(k)) {
                const known = [...this.seen].sort();
                const guess = closest(k, known);
                this.fail(k, `is not a known key${guess ? ` (did you mean "${guess}"?)` : ""}; known keys here: ${known.join(", ")}`);
            }
        }
    }
}
