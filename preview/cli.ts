// `npm run preview -- --stack <name>[,<name>...] [--json | --format text|json|markdown]
//                    [--stack-dir <dir>] [--policy-pack-config <file>]`
// (--stack-dir: read the Pulumi.<stack>.yaml files from another directory, e.g. examples/single-image.)
// Evaluates the real program per ring under the SDK's mock engine, resolves StackReferences by
// evaluating the upstream rings the same way, runs the real policy pack through its analyzer
// interface, and prints the plan.
// Exit codes: 0 no mandatory violation; 1 mandatory violation or refused promotion; 2 bad config,
// bad arguments or program error (one message, no stack trace).
// A run that ends in an error prints only that error, never a plan: with --json exactly one object
// `{"error": {"kind", "stack", "file", "key", "message"}}` (README "Offline preview").
import type { ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import * as semver from "semver";
import { SINGLE_FORM_NAME } from "../src/config/parse";
import { closest, ConfigError } from "../src/config/reader";
import { PromotionRefusedError } from "../src/promotion/gate";
import { EvaluationError, evaluate } from "./engine";
import { renderMarkdown, renderText, toJson, type StackReport } from "./render";
import { escNotice, readStackConfig, type StackConfig } from "./stackConfig";
import { simulatedCommandStdout } from "./commands";
import program = require("../index");
import { PolicyConfigError, startPolicyPack, type PolicyPackHandle } from "./policyRunner";

export const OFFLINE_SUBSCRIPTION_ID = "8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f";
export const OFFLINE_TENANT_ID = "72f988bf-0000-4000-a000-000000000000";

type Format = "text" | "json" | "markdown";

export interface PreviewOptions {
    stacks: string[];
    format: Format;
    policyPackConfig?: string;
    /** Project directory (where Pulumi.yaml lives). */
    dir: string;
    /** Where the stack files are read from (`--stack-dir`); the project directory by default. */
    stackDir?: string;
    /** Skip the policy pack (used by benchmarks to measure the program alone). */
    policies?: boolean;
    /** The pack's process, when the entry point started it before loading the SDK (preview/main.ts). */
    policyPackProcess?: ChildProcess;
}

const USAGE = "usage: npm run preview -- --stack <name>[,<name>...] [--json | --format text|json|markdown] [--stack-dir <dir>] [--policy-pack-config <file>]";

class UsageError extends Error {
    constructor(
        message: string,
        readonly key?: string,
    ) {
        super(message);
    }
}

/** The one error a failed run prints. `file` and `key` say where to fix it, when that is known. */
export interface PreviewError {
    kind: "promotion" | "config" | "program" | "usage";
    stack?: string;
    file?: string;
    key?: string;
    message: string;
}

export function parseArgs(argv: string[], dir: string): PreviewOptions {
    const opts: PreviewOptions = { stacks: [], format: "text", dir, policies: true };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
        const value = (): string => {
            const v = inline ?? argv[++i];
            if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value\n${USAGE}`, flag);
            return v;
        };
        switch (flag) {
            case "--stack":
            case "-s":
                opts.stacks.push(...value().split(",").map((s) => s.trim()).filter(Boolean));
                break;
            case "--json":
                opts.format = "json";
                break;
            case "--format": {
                const f = value();
                if (f !== "text" && f !== "json" && f !== "markdown") throw new UsageError(`--format must be text, json or markdown, got "${f}"\n${USAGE}`, "--format");
                opts.format = f;
                break;
            }
            case "--stack-dir":
                opts.stackDir = resolve(dir, value());
                break;
            case "--policy-pack-config":
                opts.policyPackConfig = value();
                break;
            case "--help":
            case "-h":
                throw new UsageError(USAGE);
            default:
                throw new UsageError(`unknown argument "${arg}"${suggestFlag(flag)}\n${USAGE}`, flag);
        }
    }
    if (opts.stacks.length === 0) throw new UsageError(`--stack is required\n${USAGE}`, "--stack");
    return opts;
}

const FLAGS = ["--stack", "--json", "--format", "--stack-dir", "--policy-pack-config", "--help"];

function suggestFlag(flag: string): string {
    const guess = flag.startsWith("-") ? closest(flag, FLAGS) : undefined;
    return guess ? ` (did you mean "${guess}"?)` : "";
}

/** File and key of a message written as "<file>: <key> <problem>", for errors that carry no location. */
function locate(message: string): { file?: string; key?: string } {
    const m = /^([^\s:]+\.(?:yaml|json)): (?:((?:config\.)?[A-Za-z0-9_.-]+:[^\s]+|config\.[^\s]+) )?/.exec(message);
    return m ? { file: m[1], ...(m[2] ? { key: m[2] } : {}) } : {};
}

const PROMOTE_KEY = "avd-image-rings:promoteFrom";
const VERSION_KEY = "avd-image-rings:imageVersion";
const VERSIONS_KEY = "avd-image-rings:imageVersions";

function asRecord(value: unknown): Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** A config value the CLI hands over as JSON text; a broken one is left to the program's own error. */
function jsonObject(text: string | undefined): Record<string, unknown> {
    if (text === undefined) return {};
    try {
        return asRecord(JSON.parse(text));
    } catch {
        return {};
    }
}

/** A ring's pinned versions by image name: `imageVersions`, or the single form's `imageVersion` as image `default`. */
function pinnedVersions(c: StackConfig): Record<string, string> {
    const single = c.config[VERSION_KEY];
    const pins = single ? { [SINGLE_FORM_NAME]: single } : jsonObject(c.config[VERSIONS_KEY]);
    return Object.fromEntries(Object.entries(pins).filter((e): e is [string, string] => typeof e[1] === "string" && semver.valid(e[1]) !== null));
}

/** The build ring's image definition name of each image name. */
function definitionNames(build: StackConfig): Record<string, string> {
    const single = jsonObject(build.config["avd-image-rings:image"]);
    if (Object.keys(single).length > 0) {
        const name = asRecord(single.gallery).imageDefinitionName;
        return typeof name === "string" ? { [SINGLE_FORM_NAME]: name } : {};
    }
    const images = jsonObject(build.config["avd-image-rings:images"]);
    return Object.fromEntries(
        Object.entries(images).map(([image, block]) => {
            const name = asRecord(asRecord(block).imageDefinition).name;
            return [image, typeof name === "string" ? name : image];
        }),
    );
}

/**
 * Offline there is no gallery to ask, so each image definition is taken to hold the build ring's
 * version and every older version some ring's stack file pins (those rings moved onto them when
 * they were current). Keyed by image definition name.
 */
export function offlineGalleryVersions(configs: StackConfig[]): Record<string, string[]> {
    const build = configs.find((c) => !c.config[PROMOTE_KEY]);
    if (!build) return {};
    const built = pinnedVersions(build);
    const out: Record<string, string[]> = {};
    for (const [image, definition] of Object.entries(definitionNames(build))) {
        const newest = built[image];
        if (newest === undefined) continue;
        const pinned = configs.map((c) => pinnedVersions(c)[image]).filter((v): v is string => v !== undefined);
        out[definition] = [...new Set(pinned.filter((v) => semver.lte(v, newest)))].sort(semver.compare);
    }
    return out;
}

function readAllStackConfigs(dir: string, stackDir: string): StackConfig[] {
    return readdirSync(stackDir)
        .map((f) => /^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .flatMap((stack) => {
            try {
                return [readStackConfig(dir, stack, stackDir)];
            } catch {
                // A broken stack file is reported when (and only when) that stack is previewed.
                return [];
            }
        });
}

function classify(err: unknown): NonNullable<StackReport["error"]> {
    const cause = err instanceof EvaluationError ? err.cause : err;
    const message = cause instanceof Error ? cause.message : String(cause);
    if (cause instanceof PromotionRefusedError || (cause instanceof Error && cause.name === "PromotionRefusedError")) return { kind: "promotion", message };
    if (cause instanceof ConfigError || cause instanceof PolicyConfigError || (cause instanceof Error && cause.name === "ConfigError")) {
        return { kind: "config", message };
    }
    return { kind: "program", message };
}

export interface PreviewResult {
    reports: StackReport[];
    exitCode: number;
}

export async function runPreview(opts: PreviewOptions): Promise<PreviewResult> {
    // Start the policy pack first: its start-up overlaps with evaluating the program.
    const pack: PolicyPackHandle | undefined = opts.policies === false ? undefined : startPolicyPack({ process: opts.policyPackProcess });
    try {
        const stackDir = opts.stackDir ?? opts.dir;
        const all = readAllStackConfigs(opts.dir, stackDir);
        const galleryVersions = offlineGalleryVersions(all);
        const evaluated = new Map<string, StackReport>();
        const inProgress = new Set<string>();

        const evaluateStack = async (stack: string): Promise<StackReport> => {
            const done = evaluated.get(stack);
            if (done) return done;
            if (inProgress.has(stack)) {
                throw new ConfigError(`Pulumi.${stack}.yaml: ${PROMOTE_KEY} forms a cycle (${[...inProgress, stack].join(" -> ")})`);
            }
            inProgress.add(stack);
            const report: StackReport = { stack, resources: [], outputs: {}, violations: [] };
            try {
                const cfg = readStackConfig(opts.dir, stack, stackDir);
                const notice = escNotice(cfg);
                if (notice) report.notices = [notice];
                const promoteFrom = cfg.config[PROMOTE_KEY];
                if (promoteFrom) {
                    const [, project, upstreamStack] = promoteFrom.split("/");
                    // A ring naming itself is left to the program, whose message says so.
                    if (project === cfg.project && upstreamStack && upstreamStack !== stack) {
                        const upstream = await evaluateStack(upstreamStack);
                        if (upstream.error) {
                            throw new ConfigError(
                                `Pulumi.${stack}.yaml: ${PROMOTE_KEY} ${promoteFrom} cannot be resolved offline: that ring failed (${upstream.error.message})`,
                            );
                        }
                    }
                }
                const result = await evaluate({
                    project: cfg.project,
                    stack,
                    config: cfg.config,
                    secretKeys: cfg.secretKeys,
                    program,
                    simulation: {
                        subscriptionId: OFFLINE_SUBSCRIPTION_ID,
                        tenantId: OFFLINE_TENANT_ID,
                        stackOutputs: (name) => {
                            const [, project, upstreamStack] = name.split("/");
                            return project === cfg.project ? evaluated.get(upstreamStack ?? "")?.outputs : undefined;
                        },
                        commandStdout: (args) => simulatedCommandStdout(args, galleryVersions),
                    },
                });
                report.resources = result.resources;
                report.outputs = result.outputs;
                // Upstream rings are evaluated only to resolve StackReferences; policies judge the rings asked for.
                if (pack && opts.stacks.includes(stack)) report.violations = await pack.analyze(result.resources, { stack, config: opts.policyPackConfig });
            } catch (err) {
                report.error = classify(err);
                const cause = err instanceof EvaluationError ? err.cause : err;
                if (cause instanceof ConfigError && cause.file) errorLocations.set(report, { file: cause.file, ...(cause.key ? { key: cause.key } : {}) });
            }
            inProgress.delete(stack);
            evaluated.set(stack, report);
            return report;
        };

        const reports: StackReport[] = [];
        for (const stack of opts.stacks) reports.push(await evaluateStack(stack));
        return { reports, exitCode: exitCodeFor(reports) };
    } finally {
        await pack?.close();
    }
}

export function exitCodeFor(reports: StackReport[]): number {
    if (reports.some((r) => r.error && r.error.kind !== "promotion")) return 2;
    if (reports.some((r) => r.error?.kind === "promotion" || r.violations.some((v) => v.enforcementLevel === "mandatory"))) return 1;
    return 0;
}

/** Where a ConfigError said the mistake is, by the report it failed (the report keeps only the message). */
const errorLocations = new WeakMap<StackReport, { file: string; key?: string }>();

/** The error that decides a failed run's exit code: a bad-input or program error before a refusal. */
export function runError(reports: StackReport[]): PreviewError | undefined {
    const failed = reports.find((r) => r.error && r.error.kind !== "promotion") ?? reports.find((r) => r.error);
    if (!failed?.error) return undefined;
    const { kind, message } = failed.error;
    const policyConfig = /^invalid policy pack configuration \(([^)]+)\):\s*(?:"([^"]+)")?/.exec(message);
    const where = errorLocations.get(failed) ?? (policyConfig ? { file: policyConfig[1], ...(policyConfig[2] ? { key: policyConfig[2] } : {}) } : locate(message));
    return { kind, stack: failed.stack, ...where, message };
}

export function renderError(error: PreviewError, format: Format): string {
    if (format === "json") return JSON.stringify({ error }, null, 2) + "\n";
    const label = error.kind === "promotion" ? "Promotion refused" : error.kind === "config" ? "Configuration error" : error.kind === "usage" ? "Usage error" : "Program error";
    return `${label}: ${error.message}\n`;
}

export function render(reports: StackReport[], format: Format): string {
    if (format === "json") return JSON.stringify(reports.length === 1 ? toJson(reports[0]) : reports.map(toJson), null, 2) + "\n";
    if (format === "markdown") return renderMarkdown(reports);
    return reports.map(renderText).join("\n\n") + "\n";
}

export async function main(policyPackProcess?: ChildProcess): Promise<number> {
    const argv = process.argv.slice(2);
    const asJson: Format = argv.includes("--json") || argv.some((a, i) => a === "--format=json" || (a === "--format" && argv[i + 1] === "json")) ? "json" : "text";
    let opts: PreviewOptions;
    try {
        opts = { ...parseArgs(argv, process.cwd()), policyPackProcess };
    } catch (err) {
        policyPackProcess?.kill();
        const message = err instanceof Error ? err.message : String(err);
        const key = err instanceof UsageError ? err.key : undefined;
        writeError({ kind: "usage", file: "(command line)", ...(key ? { key } : {}), message }, asJson);
        return 2;
    }
    try {
        const { reports, exitCode } = await runPreview(opts);
        const error = runError(reports);
        // A failed run prints its error only; markdown keeps its table, which a pull request shows per ring.
        if (error && opts.format !== "markdown") writeError(error, opts.format);
        else process.stdout.write(render(reports, opts.format));
        // Notes (such as an ESC environment the preview cannot open) go to stderr when stdout is machine-read.
        for (const r of reports) for (const n of r.notices ?? []) if (opts.format === "json") process.stderr.write(`${r.stack}: note: ${n}\n`);
        return exitCode;
    } catch (err) {
        writeError({ kind: "program", message: `preview failed: ${err instanceof Error ? err.message : String(err)}` }, opts.format);
        return 2;
    }
}

/** The one message of a failed run: JSON on stdout with --json, otherwise one line on stdout. */
function writeError(error: PreviewError, format: Format): void {
    process.stdout.write(renderError(error, format === "json" ? "json" : "text"));
}

/** Exits once stdout has drained: exiting at once can cut a large JSON document short on a pipe. */
export function exitWith(code: Promise<number>): void {
    const exit = (c: number) => process.stdout.write("", () => process.exit(c));
    code.then(exit, (err: unknown) => {
        process.stdout.write(renderError({ kind: "program", message: `preview failed: ${err instanceof Error ? err.message : String(err)}` }, process.argv.includes("--json") ? "json" : "text"));
        exit(2);
    });
}

if (require.main === module) exitWith(main());
