// Reads a stack's configuration the way the Pulumi CLI hands it to a program: project-level
// defaults from Pulumi.yaml, overridden by Pulumi.<stack>.yaml; objects as JSON text; secure
// values replaced by an obviously fake secret (offline there is no key to decrypt them).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { nearMissNamespaceProblem, PROJECT, TOP_LEVEL_KEYS } from "../src/config/parse";
import { closest, ConfigError } from "../src/config/reader";

export const OFFLINE_SECRET = "offline-preview-secret";
/**
 * A secure value inside an object (`pulumi config set --secret --path key.sub`). The only one the
 * program reads is the notifications webhook URL, so the placeholder is a URL in the reserved
 * `.invalid` domain (RFC 2606) that the URL rule accepts and nothing could ever reach.
 */
export const OFFLINE_NESTED_SECRET = "https://offline-preview-secret.invalid/";

function isSecure(value: unknown): value is { secure: string } {
    return isRecord(value) && Object.keys(value).length === 1 && typeof value.secure === "string";
}

/**
 * An object holding a secure value anywhere inside: the CLI then marks the whole top-level key secret
 * (a config object with a secure value inside is secure as a whole, pulumi/pulumi#3343) and hands it
 * over decrypted; offline each secure value becomes the placeholder.
 */
function maskNested(value: unknown): { value: unknown; secret: boolean } {
    if (isSecure(value)) return { value: OFFLINE_NESTED_SECRET, secret: true };
    if (Array.isArray(value)) {
        const items = value.map(maskNested);
        return { value: items.map((i) => i.value), secret: items.some((i) => i.secret) };
    }
    if (isRecord(value)) {
        const entries = Object.entries(value).map(([k, v]) => [k, maskNested(v)] as const);
        return { value: Object.fromEntries(entries.map(([k, m]) => [k, m.value])), secret: entries.some(([, m]) => m.secret) };
    }
    return { value, secret: false };
}

export interface StackConfig {
    project: string;
    stack: string;
    /** Full keys (`project:key`) to the string values the program receives. */
    config: Record<string, string>;
    secretKeys: string[];
    /** The Pulumi ESC environments the stack file imports (`environment:`); offline they cannot be opened. */
    environments: string[];
}

function readYaml(dir: string, file: string): unknown {
    const path = join(dir, file);
    if (!existsSync(path)) {
        throw new ConfigError(`${file}: no such file in ${dir}${file.startsWith("Pulumi.") && file !== "Pulumi.yaml" ? " (create it with `pulumi stack init` or copy another ring's file)" : ""}`);
    }
    try {
        return parse(readFileSync(path, "utf8"));
    } catch (err) {
        throw new ConfigError(`${file}: not valid YAML: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
    }
}

function asString(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The environments an `environment:` block names: a list of names, or an ESC definition whose
 * `imports` are names (or `{name: {...}}`); inline `values` count as one environment, "(inline values)".
 */
export function escEnvironments(block: unknown): string[] {
    if (block === undefined || block === null) return [];
    if (Array.isArray(block)) return block.map(asString);
    if (!isRecord(block)) return [asString(block)];
    const imports = Array.isArray(block.imports) ? block.imports.map((i) => (isRecord(i) ? Object.keys(i)[0] ?? "" : asString(i))) : [];
    return [...imports, ...(isRecord(block.values) ? ["(inline values)"] : [])];
}

/** Project name and the defaults its `config:` block declares (full keys). */
export function readProject(dir: string): { project: string; defaults: Record<string, string>; required: string[] } {
    const doc = readYaml(dir, "Pulumi.yaml");
    if (!isRecord(doc) || typeof doc.name !== "string") throw new ConfigError("Pulumi.yaml: name is required");
    const project = doc.name;
    const defaults: Record<string, string> = {};
    const required: string[] = [];
    const block = isRecord(doc.config) ? doc.config : {};
    for (const [key, decl] of Object.entries(block)) {
        const full = key.includes(":") ? key : `${project}:${key}`;
        checkDeclaredKey(full, project);
        if (isRecord(decl) && ("type" in decl || "description" in decl || "default" in decl || "value" in decl)) {
            const value = "value" in decl ? decl.value : decl.default;
            if (value !== undefined) defaults[full] = asString(value);
            else required.push(full);
        } else if (decl !== undefined && decl !== null) {
            defaults[full] = asString(decl);
        }
    }
    return { project, defaults, required };
}

/** A key declared in Pulumi.yaml that the program would never read is refused, like one in a stack file. */
function checkDeclaredKey(full: string, project: string): void {
    const nearMiss = nearMissNamespaceProblem(full);
    if (nearMiss) throw new ConfigError(`Pulumi.yaml: config.${full} ${nearMiss}`, { file: "Pulumi.yaml", key: `config.${full}` });
    const [namespace, name] = [full.slice(0, full.indexOf(":")), full.slice(full.indexOf(":") + 1)];
    if (namespace === project && project === PROJECT && !(TOP_LEVEL_KEYS as readonly string[]).includes(name)) {
        const guess = closest(name, TOP_LEVEL_KEYS);
        throw new ConfigError(`Pulumi.yaml: config.${name} is not a key of ${PROJECT}${guess ? ` (did you mean "${guess}"?)` : ""}; known keys: ${TOP_LEVEL_KEYS.join(", ")}`, {
            file: "Pulumi.yaml",
            key: `config.${name}`,
        });
    }
}

/** `dir`: the project directory (Pulumi.yaml); `stackDir`: where the stack files are, the project directory by default. */
export function readStackConfig(dir: string, stack: string, stackDir = dir): StackConfig {
    if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new ConfigError(`"${stack}" is not a valid stack name`);
    const { project, defaults, required } = readProject(dir);
    const file = `Pulumi.${stack}.yaml`;
    const doc = readYaml(stackDir, file) ?? {};
    if (!isRecord(doc)) throw new ConfigError(`${file}: must be a mapping with a config: block`);
    const block = doc.config ?? {};
    if (!isRecord(block)) throw new ConfigError(`${file}: config must be a mapping of keys to values`);

    const config = { ...defaults };
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries(block)) {
        if (!key.includes(":")) {
            throw new ConfigError(`${file}: config key "${key}" needs a namespace, e.g. "${project}:${key}"`);
        }
        if (isSecure(value)) {
            config[key] = OFFLINE_SECRET;
            secretKeys.push(key);
            continue;
        }
        const masked = maskNested(value);
        if (masked.secret) secretKeys.push(key);
        config[key] = asString(masked.value);
    }
    // The CLI refuses a stack lacking a key Pulumi.yaml declares without a default. It merges an ESC
    // environment's pulumiConfig under the stack file's values; offline there is no environment to
    // open, so say so, and fail as the CLI would on the required keys then missing.
    const environments = escEnvironments(doc.environment);
    const missing = required.filter((key) => !(key in config));
    if (missing.length > 0) {
        throw new ConfigError(
            environments.length > 0
                ? `${file}: imports the ESC environment(s) ${environments.join(", ")}, which the offline preview cannot open; without them the stack lacks the required key(s) ${missing.join(", ")}`
                : `${file}: lacks the required key(s) ${missing.join(", ")} (Pulumi.yaml declares them without a default; the Pulumi CLI refuses the stack without them)`,
            { file, key: missing[0] },
        );
    }
    return { project, stack, config, secretKeys, environments };
}

/** The one line the preview prints for a stack whose file imports ESC environments. */
export function escNotice(cfg: Pick<StackConfig, "stack" | "environments">): string | undefined {
    if (cfg.environments.length === 0) return undefined;
    return `Pulumi.${cfg.stack}.yaml imports the ESC environment(s) ${cfg.environments.join(", ")}, which the offline preview cannot open: previewing with the stack file's own values only`;
}
