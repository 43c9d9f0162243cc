// A ring's configuration read straight from a stack file (any path, e.g. the pull request's base
// revision from `git show`), validated by the program's own parser, so tools that compare
// configurations compare what the program would run.
import { existsSync, readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { parseRingConfig, PROJECT } from "../config/parse";
import { ConfigError } from "../config/reader";
import type { RingConfig } from "../config/types";

/** Stands in for a `secure:` value: offline there is no key to decrypt it, and no tool here reads it. */
const OFFLINE_SECRET = "offline-secret";

/**
 * Parses stack-file text as the CLI hands it to the program: the project's keys without their
 * prefix, top-level scalars as strings, objects as they are, `secure:` values as secrets.
 */
export function ringConfigFromText(text: string, stack: string, label: string): RingConfig {
    let doc: unknown;
    try {
        doc = parse(text);
    } catch (err) {
        throw new ConfigError(`${label}: not valid YAML: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`, { file: label });
    }
    const config = (doc as { config?: unknown } | null)?.config;
    if (typeof config !== "object" || config === null || Array.isArray(config)) throw new ConfigError(`${label}: has no config: mapping`, { file: label });
    const values: Record<string, unknown> = {};
    const secretKeys: string[] = [];
    for (const [fullKey, value] of Object.entries(config)) {
        if (!fullKey.startsWith(`${PROJECT}:`)) continue;
        const key = fullKey.slice(PROJECT.length + 1);
        const secure = typeof value === "object" && value !== null && typeof (value as { secure?: unknown }).secure === "string";
        if (secure) secretKeys.push(key);
        values[key] = secure ? OFFLINE_SECRET : typeof value === "object" && value !== null ? value : String(value);
    }
    return parseRingConfig({ stack, values, secretKeys, secret: (key) => (secretKeys.includes(key) ? pulumi.secret(OFFLINE_SECRET) : undefined) });
}

/** Reads and validates the stack file at `path` as ring `stack`. */
export function readRingConfigFile(path: string, stack: string): RingConfig {
    if (!existsSync(path)) throw new ConfigError(`${path}: no such file`, { file: path });
    return ringConfigFromText(readFileSync(path, "utf8"), stack, path);
}
