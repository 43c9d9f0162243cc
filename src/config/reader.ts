import * as pulumi from "@pulumi/pulumi";

/**
 * A configuration mistake. Extends RunError so the Pulumi CLI prints only the message
 * (no stack trace); the offline preview maps it to exit code 2.
 */
export class ConfigError extends pulumi.RunError {
    constructor(message: string) {
        super(message);
        this.name = "ConfigError";
    }
}

type Json = unknown;

function describe(value: Json): string {
    if (value === null) return "null";
    if (Array.isArray(value)) return "a list";
    if (typeof value === "object") return "an object";
    return JSON.stringify(value);
}

function closest(key: string, candidates: readonly string[]): string | undefined {
    const lower = key.toLowerCase();
    return candidates.find((c) => c.toLowerCase() === lower || c.toLowerCase().startsWith(lower.slice(0, 6)));
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
    ) {}

    static root(file: string, namespace: string, values: Record<string, Json>): Reader {
        return new Reader(file, `${namespace}:`, values);
    }

    private key(name: string): string {
        return this.path.endsWith(":") ? `${this.path}${name}` : `${this.path}.${name}`;
    }

    fail(name: string, problem: string): never {
        throw new ConfigError(`${this.file}: ${this.key(name)} ${problem}`);
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

    str(name: string, rule?: { pattern: RegExp; hint: string }): string {
        const v = this.need(name);
        if (typeof v !== "string") this.fail(name, `must be a string, got ${describe(v)}`);
        if (v.trim() === "") this.fail(name, "must not be empty");
        if (rule && !rule.pattern.test(v)) this.fail(name, `${rule.hint}, got ${JSON.stringify(v)}`);
        return v;
    }

    optStr(name: string, rule?: { pattern: RegExp; hint: string }): string | undefined {
        return this.has(name) ? this.str(name, rule) : (this.raw(name), undefined);
    }

    strOr(name: string, fallback: string, rule?: { pattern: RegExp; hint: string }): string {
        return this.optStr(name, rule) ?? fallback;
    }

    oneOf<T extends string>(name: string, allowed: readonly T[], fallback?: T): T {
        if (!this.has(name) && fallback !== undefined) return (this.raw(name), fallback);
        const v = this.need(name);
        const hit = allowed.find((a) => a === v);
        if (hit === undefined) {
            const caseHit = typeof v === "string" ? allowed.find((a) => a.toLowerCase() === v.toLowerCase()) : undefined;
            const hint = caseHit ? ` (did you mean "${caseHit}"? values are case-sensitive)` : "";
            this.fail(name, `must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${describe(v)}${hint}`);
        }
        return hit;
    }

    int(name: string, range: { min: number; max: number }, fallback?: number): number {
        if (!this.has(name) && fallback !== undefined) return (this.raw(name), fallback);
        let v = this.need(name);
        // Stack files written by `pulumi config set` hold numbers as strings.
        if (typeof v === "string" && /^-?\d+$/.test(v.trim())) v = Number(v.trim());
        if (typeof v !== "number" || !Number.isInteger(v)) this.fail(name, `must be an integer, got ${describe(v)}`);
        if (v < range.min || v > range.max) this.fail(name, `must be between ${range.min} and ${range.max}, got ${v}`);
        return v;
    }

    bool(name: string, fallback: boolean): boolean {
        if (!this.has(name)) return (this.raw(name), fallback);
        const v = this.raw(name);
        if (v === "true" || v === true) return true;
        if (v === "false" || v === false) return false;
        this.fail(name, `must be true or false, got ${describe(v)}`);
    }

    obj(name: string): Reader {
        const v = this.need(name);
        if (typeof v !== "object" || Array.isArray(v) || v === null) this.fail(name, `must be an object, got ${describe(v)}`);
        return new Reader(this.file, this.key(name), v as Record<string, Json>);
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
        if (!Array.isArray(v)) this.fail(name, `must be a list, got ${describe(v)}`);
        return v;
    }

    strList(name: string, rule?: { pattern: RegExp; hint: string }): string[] {
        return this.list(name).map((item, i) => {
            if (typeof item !== "string" || item.trim() === "") this.fail(`${name}[${i}]`, `must be a non-empty string, got ${describe(item)}`);
            if (rule && !rule.pattern.test(item)) this.fail(`${name}[${i}]`, `${rule.hint}, got ${JSON.stringify(item)}`);
            return item;
        });
    }

    stringMap(name: string): Record<string, string> {
        const out: Record<string, string> = {};
        for (const [k, v, map] of this.entries(name)) {
            out[k] = typeof v === "string" ? v : map.fail(k, `must be a string, got ${describe(v)}`);
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
