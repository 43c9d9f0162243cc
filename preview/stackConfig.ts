// Reads a stack's configuration the way the Pulumi CLI hands it to a program: project-level
// defaults from Pulumi.yaml, overridden by Pulumi.<stack>.yaml; objects as JSON text; secure
// values replaced by an obviously fake secret (offline there is no key to decrypt them).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { nearMissNamespaceProblem, PROJECT, TOP_LEVEL_KEYS } from "../src/config/parse";
import { closest, ConfigError } from "../src/config/reader";

export const OFFLINE_SECRET = "offline-preview-secret";

export interface StackConfig {
    project: string;
    stack: string;
    /** Full keys (`project:key`) to the string values the program receives. */
    config: Record<string, string>;
    secretKeys: string[];
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

/** Project name and the defaults its `config:` block declares (full keys). */
export function readProject(dir: string): { project: string; defaults: Record<string, string> } {
    const doc = readYaml(dir, "Pulumi.yaml");
    if (!isRecord(doc) || typeof doc.name !== "string") throw new ConfigError("Pulumi.yaml: name is required");
    const project = doc.name;
    const defaults: Record<string, string> = {};
    const block = isRecord(doc.config) ? doc.config : {};
    for (const [key, decl] of Object.entries(block)) {
        const full = key.includes(":") ? key : `${project}:${key}`;
        checkDeclaredKey(full, project);
        if (isRecord(decl) && ("type" in decl || "description" in decl || "default" in decl || "value" in decl)) {
            const value = "value" in decl ? decl.value : decl.default;
            if (value !== undefined) defaults[full] = asString(value);
        } else if (decl !== undefined && decl !== null) {
            defaults[full] = asString(decl);
        }
    }
    return { project, defaults };
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

export function readStackConfig(dir: string, stack: string): StackConfig {
    if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new ConfigError(`"${stack}" is not a valid stack name`);
    const { project, defaults } = readProject(dir);
    const file = `Pulumi.${stack}.yaml`;
    const doc = readYaml(dir, file) ?? {};
    if (!isRecord(doc)) throw new ConfigError(`${file}: must be a mapping with a config: block`);
    const block = doc.config ?? {};
    if (!isRecord(block)) throw new ConfigError(`${file}: config must be a mapping of keys to values`);

    const config = { ...defaults };
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries(block)) {
        if (!key.includes(":")) {
            throw new ConfigError(`${file}: config key "${key}" needs a namespace, e.g. "${project}:${key}"`);
        }
        if (isRecord(value) && Object.keys(value).length === 1 && typeof value.secure === "string") {
            config[key] = OFFLINE_SECRET;
            secretKeys.push(key);
            continue;
        }
        config[key] = asString(value);
    }
    return { project, stack, config, secretKeys };
}
