// Runs the policy pack (policy/) over a stack's resources the way the Pulumi CLI does: the pack
// runs as its own process (policy/index.ts through preview/loader.cjs, cwd policy/), serves the analyzer gRPC
// interface of @pulumi/policy and prints its port; this module drives it with GetAnalyzerInfo,
// ConfigureStack, Configure (the --policy-pack-config file, reconciled with the schema defaults
// and validated like the CLI does), Analyze per resource and AnalyzeStack for the whole stack.
//
// Start the pack early with startPolicyPack() so its start-up overlaps with program
// evaluation; one process serves any number of analyze() calls (one per stack), one at a time.
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct, type JavaScriptValue } from "google-protobuf/google/protobuf/struct_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as proto from "@pulumi/pulumi/proto/analyzer_pb";

import { POLICY_PACK_DIR, spawnPolicyPackProcess } from "./packProcess";
import { closest } from "../src/config/reader";

function didYouMean(name: string, candidates: readonly string[]): string {
    const guess = closest(name, candidates);
    return guess ? ` (did you mean "${guess}"?)` : "";
}

export { POLICY_PACK_DIR };
export const POLICY_CONFIG_DIR = path.join(POLICY_PACK_DIR, "config");

export type EnforcementLevel = "advisory" | "mandatory" | "remediate" | "disabled";

/** A resource as the preview engine records it (preview/engine.ts RecordedResource). */
export interface PolicyInputResource {
    urn: string;
    type: string;
    name: string;
    parent?: string;
    inputs: Record<string, unknown>;
    /** Resource outputs, when known. AnalyzeStack sends outputs (as the CLI does), else the inputs. */
    outputs?: Record<string, unknown>;
    dependencies?: string[];
    propertyDependencies?: Record<string, string[]>;
    /** The options the engine received (preview/engine.ts ResourceOptionsRecord); absent means none set. */
    options?: { protect: boolean; ignoreChanges: string[]; deleteBeforeReplace: boolean };
}

export interface PolicyViolation {
    policyPack: string;
    policy: string;
    enforcementLevel: EnforcementLevel;
    message: string;
    urn: string;
}

/** The JSON format of the CLI's `--policy-pack-config` file. */
export type PolicyPackConfig = Record<string, EnforcementLevel | Record<string, unknown>>;

export interface AnalyzeOptions {
    /**
     * Pack configuration, or the path of a JSON file holding it. Left out: the ring's file from
     * policy/config (defaultPolicyConfigPath); null: no configuration (the pack's defaults).
     */
    config?: PolicyPackConfig | string | null;
    /** Defaults to the stack named in the resources' URNs. */
    stack?: string;
    project?: string;
    organization?: string;
    /** `pulumi preview` (true, the default) or `pulumi up`. */
    dryRun?: boolean;
}

export interface PolicyPackHandle {
    /**
     * Analyzes one stack's resources and returns its violations, mandatory first, then by policy,
     * URN and message. Calls are serialised; each configures the pack afresh.
     */
    analyze(resources: readonly PolicyInputResource[], options?: AnalyzeOptions): Promise<PolicyViolation[]>;
    close(): Promise<void>;
}

export interface StartOptions {
    /** Directory holding PulumiPolicy.yaml, package.json and index.ts (default: policy/ beside preview/). */
    packDir?: string;
    /** The Pulumi project directory; the pack is its `policy/` directory. Ignored when packDir is given. */
    projectDir?: string;
    startTimeoutMs?: number;
    /** The pack's process when the caller started it already (spawnPolicyPackProcess, with the same packDir). */
    process?: ChildProcess;
}

/** The pack process failed to start, crashed, or a policy threw. */
export class PolicyPackError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PolicyPackError";
    }
}

/** The pack configuration is malformed or does not match the policies' schemas. */
export class PolicyConfigError extends Error {
    constructor(
        readonly source: string,
        readonly problems: string[],
    ) {
        super(`invalid policy pack configuration (${source}):\n  ${problems.join("\n  ")}`);
        this.name = "PolicyConfigError";
    }
}

const LEVELS: readonly EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];

function levelFromProto(level: proto.EnforcementLevel): EnforcementLevel {
    switch (level) {
        case proto.EnforcementLevel.MANDATORY:
            return "mandatory";
        case proto.EnforcementLevel.REMEDIATE:
            return "remediate";
        case proto.EnforcementLevel.DISABLED:
            return "disabled";
        default:
            return "advisory";
    }
}

function levelToProto(level: EnforcementLevel): proto.EnforcementLevel {
    switch (level) {
        case "mandatory":
            return proto.EnforcementLevel.MANDATORY;
        case "remediate":
            return proto.EnforcementLevel.REMEDIATE;
        case "disabled":
            return proto.EnforcementLevel.DISABLED;
        case "advisory":
            return proto.EnforcementLevel.ADVISORY;
    }
}

function isLevel(value: unknown): value is EnforcementLevel {
    return typeof value === "string" && (LEVELS as readonly string[]).includes(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Configuration: the CLI's file format, per-ring defaults, reconciliation and validation.

/** The ring's configuration file in policy/config: `<stack>.json`, else the ring a `prod-*`/`pilot-*`/`test-*` stack belongs to. */
export function defaultPolicyConfigPath(stack: string, configDir = POLICY_CONFIG_DIR): string | undefined {
    const name = stack.split("/").pop() ?? stack;
    if (!/^[\w.-]+$/.test(name)) return undefined;
    const exact = path.join(configDir, `${name}.json`);
    if (fs.existsSync(exact)) return exact;
    for (const ring of ["prod", "pilot", "test"]) {
        const file = path.join(configDir, `${ring}.json`);
        if (name.toLowerCase().startsWith(`${ring}-`) && fs.existsSync(file)) return file;
    }
    return undefined;
}

export function loadPolicyPackConfig(file: string): PolicyPackConfig {
    let parsed: unknown;
    try {
        const text = fs.readFileSync(file, "utf8");
        // Like the CLI, an empty file means no configuration.
        parsed = text.trim() === "" ? {} : JSON.parse(text);
    } catch (err) {
        throw new PolicyConfigError(file, [err instanceof Error ? err.message : String(err)]);
    }
    if (!isRecord(parsed)) throw new PolicyConfigError(file, ["the file must hold a JSON object keyed by policy name"]);
    return parsed as PolicyPackConfig;
}

export interface PolicyConfigEntry {
    level?: EnforcementLevel;
    properties: Record<string, unknown>;
}

function normaliseConfig(config: PolicyPackConfig, problems: string[]): Map<string, PolicyConfigEntry> {
    const result = new Map<string, PolicyConfigEntry>();
    for (const [policy, value] of Object.entries(config)) {
        if (typeof value === "string") {
            if (isLevel(value)) result.set(policy, { level: value, properties: {} });
            else problems.push(`"${policy}": "${value}" is not an enforcement level (${LEVELS.join(", ")})`);
        } else if (isRecord(value)) {
            const { enforcementLevel, ...properties } = value;
            if (enforcementLevel !== undefined && !isLevel(enforcementLevel)) {
                problems.push(`"${policy}".enforcementLevel: ${JSON.stringify(enforcementLevel)} is not an enforcement level (${LEVELS.join(", ")})`);
            } else {
                result.set(policy, { level: enforcementLevel, properties });
            }
        } else {
            problems.push(`"${policy}": must be an enforcement level or an object`);
        }
    }
    return result;
}

type Schema = Record<string, unknown>;

const TYPE_CHECKS: Record<string, (v: unknown) => boolean> = {
    string: (v) => typeof v === "string",
    number: (v) => typeof v === "number" && Number.isFinite(v),
    integer: (v) => typeof v === "number" && Number.isInteger(v),
    boolean: (v) => typeof v === "boolean",
    object: isRecord,
    array: Array.isArray,
    null: (v) => v === null,
};

/** The subset of JSON Schema that policy config schemas use; problems are reported by path. */
export function validateAgainstSchema(value: unknown, schema: Schema, at: string): string[] {
    const problems: string[] = [];
    const types = typeof schema.type === "string" ? [schema.type] : Array.isArray(schema.type) ? schema.type.map(String) : [];
    if (types.length > 0 && !types.some((t) => TYPE_CHECKS[t]?.(value))) {
        return [`${at}: expected ${types.join(" or ")}, got ${JSON.stringify(value)}`];
    }
    if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
        problems.push(`${at}: must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`);
    }
    if (typeof value === "number") {
        if (typeof schema.minimum === "number" && value < schema.minimum) problems.push(`${at}: must be >= ${schema.minimum}`);
        if (typeof schema.maximum === "number" && value > schema.maximum) problems.push(`${at}: must be <= ${schema.maximum}`);
        if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum) problems.push(`${at}: must be > ${schema.exclusiveMinimum}`);
        if (typeof schema.exclusiveMaximum === "number" && value >= schema.exclusiveMaximum) problems.push(`${at}: must be < ${schema.exclusiveMaximum}`);
    }
    if (typeof value === "string") {
        if (typeof schema.minLength === "number" && value.length < schema.minLength) problems.push(`${at}: must be at least ${schema.minLength} characters`);
        if (typeof schema.maxLength === "number" && value.length > schema.maxLength) problems.push(`${at}: must be at most ${schema.maxLength} characters`);
        if (typeof schema.pattern === "string" && !new RegExp(schema.pattern).test(value)) problems.push(`${at}: must match ${schema.pattern}`);
    }
    if (Array.isArray(value)) {
        if (typeof schema.minItems === "number" && value.length < schema.minItems) problems.push(`${at}: must have at least ${schema.minItems} items`);
        if (typeof schema.maxItems === "number" && value.length > schema.maxItems) problems.push(`${at}: must have at most ${schema.maxItems} items`);
        if (isRecord(schema.items)) {
            const items = schema.items;
            value.forEach((item, i) => problems.push(...validateAgainstSchema(item, items, `${at}[${i}]`)));
        }
    }
    if (isRecord(value)) {
        const properties = isRecord(schema.properties) ? schema.properties : {};
        for (const key of Array.isArray(schema.required) ? schema.required.map(String) : []) {
            if (!(key in value)) problems.push(`${at}: "${key}" is required`);
        }
        for (const [key, v] of Object.entries(value)) {
            const sub = properties[key];
            if (isRecord(sub)) problems.push(...validateAgainstSchema(v, sub, `${at}.${key}`));
            else if (schema.additionalProperties === false) problems.push(`${at}: unknown property "${key}"${didYouMean(key, Object.keys(properties))}`);
        }
    }
    return problems;
}

export interface PolicyMeta {
    name: string;
    level: EnforcementLevel;
    schema?: { properties: Record<string, Schema>; required: string[] };
}

function policiesOf(info: proto.AnalyzerInfo): PolicyMeta[] {
    return info.getPoliciesList().map((p) => {
        const schema = p.getConfigschema();
        const properties = schema?.getProperties()?.toJavaScript() ?? {};
        return {
            name: p.getName(),
            level: levelFromProto(p.getEnforcementlevel()),
            schema: schema
                ? {
                      properties: Object.fromEntries(Object.entries(properties).filter((e): e is [string, Schema] => isRecord(e[1]))),
                      required: schema.getRequiredList(),
                  }
                : undefined,
        };
    });
}

/**
 * What the CLI sends with Configure: every policy with its enforcement level and its schema
 * defaults, overlaid with the file (`all` sets every level). Unlike the CLI, unknown policy
 * names and properties are errors here, so a typo cannot silently leave a rule at its default.
 */
export function reconcilePolicyConfig(policies: PolicyMeta[], config: PolicyPackConfig | undefined, source: string): Map<string, PolicyConfigEntry> {
    const problems: string[] = [];
    const given = config ? normaliseConfig(config, problems) : new Map<string, PolicyConfigEntry>();
    const all = given.get("all")?.level;
    const result = new Map<string, PolicyConfigEntry>();
    for (const p of policies) {
        const defaults = Object.fromEntries(
            Object.entries(p.schema?.properties ?? {})
                .filter(([, s]) => s.default !== undefined)
                .map(([k, s]) => [k, s.default]),
        );
        const entry = given.get(p.name);
        const properties = { ...defaults, ...(entry?.properties ?? {}) };
        result.set(p.name, { level: entry?.level ?? all ?? p.level, properties });
        if (entry && Object.keys(entry.properties).length > 0 && !p.schema) {
            problems.push(`policy "${p.name}" takes no configuration properties`);
        } else if (p.schema) {
            const schema: Schema = { type: "object", properties: p.schema.properties, required: p.schema.required, additionalProperties: false };
            problems.push(...validateAgainstSchema(properties, schema, `"${p.name}"`));
        }
    }
    for (const name of config ? Object.keys(config) : []) {
        if (name !== "all" && !policies.some((p) => p.name === name)) problems.push(`"${name}": no such policy in the pack${didYouMean(name, policies.map((p) => p.name))}`);
    }
    if (problems.length > 0) throw new PolicyConfigError(source, problems);
    return result;
}

// ---------------------------------------------------------------------------------------------
// The pack process and its gRPC client.

function unary<T>(invoke: (callback: (err: grpc.ServiceError | null, res: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => invoke((err, res) => (err ? reject(err) : resolve(res))));
}

function toStruct(value: Record<string, unknown>): Struct {
    return Struct.fromJavaScript(value as Record<string, JavaScriptValue>);
}

/** Analyze calls in flight at once. */
const ANALYZE_CONCURRENCY = 64;

async function inBatches<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
    for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(work));
}

/**
 * Resources arrive in wire form already (the engine records the registered Struct as JavaScript:
 * unknowns as the engine's sentinel, secrets masked), so a Struct is built directly; running each
 * through the SDK's serializeProperties again cost five times as much on large stacks. Undefined
 * values are dropped as the SDK would.
 */
function serialized(props: Record<string, unknown>): Struct {
    return toStruct(withoutUndefined(props) as Record<string, unknown>);
}

function withoutUndefined(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : withoutUndefined(v)));
    if (value !== null && typeof value === "object") {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = withoutUndefined(v);
        return out;
    }
    return value;
}

function resourceOptions(r: PolicyInputResource): proto.AnalyzerResourceOptions {
    const options = new proto.AnalyzerResourceOptions();
    options.setProtect(r.options?.protect ?? false);
    options.setIgnorechangesList(r.options?.ignoreChanges ?? []);
    options.setDeletebeforereplace(r.options?.deleteBeforeReplace ?? false);
    options.setCustomtimeouts(new proto.AnalyzerResourceOptions.CustomTimeouts());
    if (r.parent) options.setParent(r.parent);
    return options;
}

function stackFromUrn(urn: string): string {
    const m = /^urn:pulumi:([^:]+)::/.exec(urn);
    return m ? m[1] : "";
}

function projectFromUrn(urn: string): string {
    const parts = urn.split("::");
    return parts.length > 1 ? parts[1] : "";
}

const LEVEL_ORDER: Record<EnforcementLevel, number> = { mandatory: 0, remediate: 1, advisory: 2, disabled: 3 };

/** Code-unit order, the same on every machine whatever its locale. */
function compare(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

function byLevelPolicyUrn(a: PolicyViolation, b: PolicyViolation): number {
    return LEVEL_ORDER[a.enforcementLevel] - LEVEL_ORDER[b.enforcementLevel] || compare(a.policy, b.policy) || compare(a.urn, b.urn) || compare(a.message, b.message);
}

interface Connection {
    client: AnalyzerClient;
    info: proto.AnalyzerInfo;
    policies: PolicyMeta[];
}

class PolicyPackProcess implements PolicyPackHandle {
    private readonly child: ChildProcess;
    private readonly connection: Promise<Connection>;
    private stderr = "";
    private exited = false;
    private queue: Promise<unknown> = Promise.resolve();
    private readonly onParentExit = () => this.child.kill();

    constructor(private readonly packDir: string, startTimeoutMs: number, child?: ChildProcess) {
        this.child = child ?? spawnPolicyPackProcess(packDir);
        process.once("exit", this.onParentExit);
        this.child.stderr?.setEncoding("utf8");
        this.child.stderr?.on("data", (chunk: string) => {
            // Keep the tail: enough to explain a crash, bounded for a chatty pack.
            this.stderr = (this.stderr + chunk).slice(-8000);
        });
        this.child.on("exit", () => {
            this.exited = true;
        });
        this.connection = this.connect(startTimeoutMs);
        // A pack that fails to start is reported by analyze(); never as an unhandled rejection.
        this.connection.catch(() => undefined);
    }

    private failure(what: string): PolicyPackError {
        const detail = this.stderr.trim();
        return new PolicyPackError(`policy pack (${this.packDir}) ${what}${detail ? `:\n${detail}` : ""}`);
    }

    private connect(timeoutMs: number): Promise<Connection> {
        const port = new Promise<number>((resolve, reject) => {
            let stdout = "";
            let reported = false;
            const timer = setTimeout(() => reject(this.failure(`did not report its port within ${timeoutMs} ms`)), timeoutMs);
            this.child.stdout?.setEncoding("utf8");
            // Read on after the port line (and drop it) so a pack that prints never blocks on a full pipe.
            this.child.stdout?.on("data", (chunk: string) => {
                if (reported) return;
                stdout += chunk;
                const m = /^\s*(\d+)\s*$/m.exec(stdout);
                if (m) {
                    reported = true;
                    clearTimeout(timer);
                    resolve(Number(m[1]));
                }
            });
            this.child.on("error", (err) => {
                clearTimeout(timer);
                reject(new PolicyPackError(`could not start the policy pack: ${err.message}`));
            });
            this.child.on("exit", (code, signal) => {
                clearTimeout(timer);
                reject(this.failure(`exited during start-up (${signal ?? `exit code ${code}`})`));
            });
        });
        return port.then(async (p) => {
            const client = new AnalyzerClient(`127.0.0.1:${p}`, grpc.credentials.createInsecure(), {
                "grpc.max_receive_message_length": 400 * 1024 * 1024,
                "grpc.max_send_message_length": 400 * 1024 * 1024,
            });
            const info = await unary<proto.AnalyzerInfo>((cb) => client.getAnalyzerInfo(new Empty(), cb));
            // From here on the pack must not keep the caller's process alive on its own.
            for (const stream of [this.child.stdout, this.child.stderr]) if (stream instanceof net.Socket) stream.unref();
            this.child.unref();
            return { client, info, policies: policiesOf(info) };
        });
    }

    analyze(resources: readonly PolicyInputResource[], options: AnalyzeOptions = {}): Promise<PolicyViolation[]> {
        const run = this.queue.then(() => this.analyzeNow(resources, options));
        this.queue = run.catch(() => undefined);
        return run;
    }

    private async call<T>(what: string, invoke: (callback: (err: grpc.ServiceError | null, res: T) => void) => void): Promise<T> {
        try {
            return await unary(invoke);
        } catch (err) {
            if (this.exited) throw this.failure(`exited while running ${what}`);
            throw new PolicyPackError(`${what} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
    }

    private async analyzeNow(resources: readonly PolicyInputResource[], options: AnalyzeOptions): Promise<PolicyViolation[]> {
        const { client, info, policies } = await this.connection;
        const stack = options.stack ?? stackFromUrn(resources[0]?.urn ?? "");
        let configFile: string | undefined;
        let given: PolicyPackConfig | undefined;
        if (options.config === undefined) configFile = defaultPolicyConfigPath(stack, path.join(this.packDir, "config"));
        else if (typeof options.config === "string") configFile = options.config;
        else if (options.config !== null) given = options.config;
        if (configFile) given = loadPolicyPackConfig(configFile);
        const config = reconcilePolicyConfig(policies, given, configFile ?? "inline policy configuration");

        const stackConfig = new proto.AnalyzerStackConfigureRequest();
        stackConfig.setStack(stack);
        stackConfig.setProject(options.project ?? projectFromUrn(resources[0]?.urn ?? ""));
        // "organization" is the CLI's organisation name for stacks outside Pulumi Cloud.
        stackConfig.setOrganization(options.organization ?? "organization");
        stackConfig.setDryRun(options.dryRun ?? true);
        await this.call("ConfigureStack", (cb) => client.configureStack(stackConfig, cb));

        const configure = new proto.ConfigureAnalyzerRequest();
        for (const [name, entry] of config) {
            const c = new proto.PolicyConfig();
            c.setEnforcementlevel(levelToProto(entry.level ?? "advisory"));
            c.setProperties(toStruct(entry.properties));
            configure.getPolicyconfigMap().set(name, c);
        }
        await this.call("Configure", (cb) => client.configure(configure, cb));

        const violations: PolicyViolation[] = [];
        const collect = (response: proto.AnalyzeResponse, fallbackUrn: string) => {
            for (const d of response.getDiagnosticsList()) {
                violations.push({
                    policyPack: d.getPolicypackname() || info.getName(),
                    policy: d.getPolicyname(),
                    enforcementLevel: levelFromProto(d.getEnforcementlevel()),
                    message: d.getMessage(),
                    urn: d.getUrn() || fallbackUrn,
                });
            }
        };

        // One Struct per distinct property bag: inputs and outputs are often the same object.
        const structs = new Map<Record<string, unknown>, Struct>();
        const structOf = (props: Record<string, unknown>): Struct => {
            let struct = structs.get(props);
            if (!struct) structs.set(props, (struct = serialized(props)));
            return struct;
        };

        // Bounded concurrency: thousands of calls in flight at once only add memory and GC pressure.
        await inBatches(resources, ANALYZE_CONCURRENCY, async (r) => {
            const req = new proto.AnalyzeRequest();
            req.setUrn(r.urn);
            req.setType(r.type);
            req.setName(r.name);
            req.setProperties(structOf(r.inputs));
            req.setOptions(resourceOptions(r));
            collect(await this.call(`Analyze(${r.urn})`, (cb) => client.analyze(req, cb)), r.urn);
        });

        const stackReq = new proto.AnalyzeStackRequest();
        const analyzerResources: proto.AnalyzerResource[] = [];
        for (const r of resources) {
            const res = new proto.AnalyzerResource();
            res.setUrn(r.urn);
            res.setType(r.type);
            res.setName(r.name);
            res.setProperties(structOf(r.outputs ?? r.inputs));
            res.setOptions(resourceOptions(r));
            if (r.parent) res.setParent(r.parent);
            res.setDependenciesList(r.dependencies ?? []);
            for (const [prop, urns] of Object.entries(r.propertyDependencies ?? {})) {
                if (urns.length === 0) continue;
                const deps = new proto.AnalyzerPropertyDependencies();
                deps.setUrnsList(urns);
                res.getPropertydependenciesMap().set(prop, deps);
            }
            analyzerResources.push(res);
        }
        structs.clear();
        stackReq.setResourcesList(analyzerResources);
        const stackUrn = resources.find((r) => r.type === "pulumi:pulumi:Stack")?.urn ?? "";
        collect(await this.call("AnalyzeStack", (cb) => client.analyzeStack(stackReq, cb)), stackUrn);

        return violations.sort(byLevelPolicyUrn);
    }

    async close(): Promise<void> {
        process.removeListener("exit", this.onParentExit);
        const connection = await this.connection.catch(() => undefined);
        connection?.client.close();
        if (this.exited) return;
        const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
        this.child.kill();
        // A ref'd timer: the caller's process must wait for the pack to go; with nothing ref'd
        // it would exit mid-close and silently drop whatever the caller does next.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]);
        clearTimeout(timer);
    }
}

/** Starts the policy pack process; analyze() waits for it to be ready. */
export function startPolicyPack(options: StartOptions = {}): PolicyPackHandle {
    const packDir = options.packDir ?? (options.projectDir ? path.join(options.projectDir, "policy") : POLICY_PACK_DIR);
    return new PolicyPackProcess(path.resolve(packDir), options.startTimeoutMs ?? 60_000, options.process);
}
