// Evaluates the real Pulumi program for one stack under the SDK's mock engine and records
// every registered resource (type, name, parent, inputs as registered). Used by the offline
// preview and by the tests, so both see exactly what `pulumi preview` would send.
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor, type MockCallArgs, type MockResourceArgs, type MockResourceResult } from "@pulumi/pulumi/runtime/mocks";
import { disconnect, setMockOptions } from "@pulumi/pulumi/runtime/settings";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { simulateCall, simulateResource, type SimulationContext } from "./simulate";

export const SECRET_MASK = "[secret]";

export interface RecordedResource {
    urn: string;
    type: string;
    name: string;
    /** URN of the parent resource; undefined for the stack itself. */
    parent?: string;
    custom: boolean;
    /** Inputs exactly as registered; secret values replaced by "[secret]". */
    inputs: Record<string, unknown>;
    /** What the (simulated) provider returned: inputs plus computed properties, secrets masked. */
    outputs: Record<string, unknown>;
    /** URNs this resource depends on, overall and per input property, as the engine sends them to analyzers. */
    dependencies: string[];
    propertyDependencies: Record<string, string[]>;
    id?: string;
    /** The resource options that change what `pulumi up` or `pulumi destroy` does, as the engine received them. */
    options: ResourceOptionsRecord;
}

export interface ResourceOptionsRecord {
    protect: boolean;
    retainOnDelete: boolean;
    deleteBeforeReplace: boolean;
    replaceOnChanges: string[];
    ignoreChanges: string[];
    /** URNs the resource depends on beyond those its inputs carry (the `dependsOn` option, components expanded by the SDK). */
    dependsOn: string[];
}

export interface Evaluation {
    stack: string;
    resources: RecordedResource[];
    outputs: Record<string, unknown>;
}

export interface EvaluateOptions {
    project: string;
    stack: string;
    /** Full keys (`project:key`) to string values, as the CLI hands them to a program. */
    config: Record<string, string>;
    secretKeys: string[];
    program: () => Promise<Record<string, unknown> | void>;
    simulation: SimulationContext;
    /** `pulumi preview` (true) or `pulumi up` (false) semantics. */
    dryRun?: boolean;
    /** How long the program may take; a mock never fails a registration whose input failed, it waits. */
    timeoutMs?: number;
}

/** Replaces secret-wrapped values with a mask, recursively, so nothing secret is ever printed. */
export function maskSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(maskSecrets);
    if (value && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        if (obj[specialSigKey] === specialSecretSig) return SECRET_MASK;
        return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, maskSecrets(v)]));
    }
    return value;
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
    getDependenciesList(): string[];
    getPropertydependenciesMap(): { forEach(cb: (value: { getUrnsList(): string[] }, key: string) => void): void };
    getProtect(): boolean;
    getRetainondelete(): boolean;
    getDeletebeforereplace(): boolean;
    getReplaceonchangesList(): string[];
    getIgnorechangesList(): string[];
}

/** Options as the engine receives them; an explicit dependency is one no input property carries. */
function optionsOf(req: RegisterRequest, propertyDependencies: Record<string, string[]>): ResourceOptionsRecord {
    const viaInputs = new Set(Object.values(propertyDependencies).flat());
    return {
        protect: req.getProtect(),
        retainOnDelete: req.getRetainondelete(),
        deleteBeforeReplace: req.getDeletebeforereplace(),
        replaceOnChanges: req.getReplaceonchangesList(),
        ignoreChanges: req.getIgnorechangesList(),
        dependsOn: req.getDependenciesList().filter((urn) => !viaInputs.has(urn)),
    };
}

/** A read (StackReference) is never protected, replaced or deleted by the stack that reads it. */
const READ_OPTIONS: ResourceOptionsRecord = { protect: false, retainOnDelete: false, deleteBeforeReplace: false, replaceOnChanges: [], ignoreChanges: [], dependsOn: [] };

interface ReadRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getId(): string;
    getProperties(): { toJavaScript(): Record<string, unknown> } | undefined;
    getDependenciesList(): string[];
}

/** The SDK's MockMonitor, additionally recording parents and secret-masked inputs. */
class RecordingMonitor extends MockMonitor {
    readonly recorded: RecordedResource[] = [];

    async registerResource(req: RegisterRequest, callback: (err: unknown, resp: unknown) => void): Promise<void> {
        await super.registerResource(req, (err: unknown, resp: unknown) => {
            if (!err && resp) {
                const response = resp as { getUrn(): string; getId(): string; getObject(): { toJavaScript(): Record<string, unknown> } | undefined };
                const urn = response.getUrn();
                const id = response.getId();
                const propertyDependencies: Record<string, string[]> = {};
                req.getPropertydependenciesMap().forEach((deps, key) => (propertyDependencies[key] = deps.getUrnsList()));
                const inputs = maskSecrets(req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
                // The simulated state is the inputs plus computed properties. Serialising it marks a whole
                // property secret when anything inside is, so take the finely-masked inputs and add only
                // what the provider computed.
                const state = maskSecrets(response.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
                const computed = Object.fromEntries(Object.entries(state).filter(([k]) => !(k in inputs)));
                this.recorded.push({
                    urn,
                    type: req.getType(),
                    name: req.getName(),
                    parent: req.getParent() || undefined,
                    custom: req.getCustom(),
                    inputs,
                    outputs: { ...inputs, ...computed },
                    dependencies: req.getDependenciesList(),
                    propertyDependencies,
                    id: id || undefined,
                    options: optionsOf(req, propertyDependencies),
                });
            }
            callback(err, resp);
        });
    }

    /** Reads (StackReferences) show in the plan as `read`, as in `pulumi preview`. */
    async readResource(req: ReadRequest, callback: (err: unknown, resp: unknown) => void): Promise<void> {
        await super.readResource(req, (err: unknown, resp: unknown) => {
            if (!err && resp) {
                const response = resp as { getUrn(): string; getProperties(): { toJavaScript(): Record<string, unknown> } | undefined };
                const inputs = maskSecrets(req.getProperties()?.toJavaScript() ?? {}) as Record<string, unknown>;
                this.recorded.push({
                    urn: response.getUrn(),
                    type: req.getType(),
                    name: req.getName(),
                    parent: req.getParent() || undefined,
                    custom: true,
                    inputs,
                    outputs: maskSecrets(response.getProperties()?.toJavaScript() ?? {}) as Record<string, unknown>,
                    dependencies: req.getDependenciesList(),
                    propertyDependencies: {},
                    id: req.getId() || undefined,
                    options: READ_OPTIONS,
                });
            }
            callback(err, resp);
        });
    }
}

const UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** The stack's registered outputs, secrets masked and preview-unknowns shown as "[unknown]". */
function stackOutputs(monitor: RecordingMonitor): Record<string, unknown> {
    const stack = monitor.recorded.find((r) => r.type === "pulumi:pulumi:Stack");
    const state = stack ? (monitor.getRegisteredResources().get(stack.urn)?.state as { toJavaScript?: () => unknown } | undefined) : undefined;
    const raw = state && typeof state.toJavaScript === "function" ? state.toJavaScript() : {};
    const unknowns = (v: unknown): unknown =>
        v === UNKNOWN_SENTINEL ? "[unknown]" : Array.isArray(v) ? v.map(unknowns) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unknowns(x)])) : v;
    return unknowns(maskSecrets(raw)) as Record<string, unknown>;
}

const RUNTIME_ERROR_PREFIX = "error: [runtime]";

/**
 * The SDK's own check after a program returns (its program runner fails a run that leaves
 * operations pending); not part of its typed API, so narrowed here.
 */
function pendingOperations(): [Set<unknown>, string] {
    const debuggable = require("@pulumi/pulumi/runtime/debuggable") as { leakedPromises(): [Set<unknown>, string] };
    return debuggable.leakedPromises();
}

/** A program or engine failure during evaluation, with the stack it happened in. */
export class EvaluationError extends Error {
    constructor(
        readonly stack: string,
        readonly cause: unknown,
    ) {
        super(cause instanceof Error ? cause.message : String(cause));
        this.name = "EvaluationError";
    }
}

/**
 * Runs `program` as stack `stack`. Each call resets the SDK's runtime state, so several
 * stacks can be evaluated one after another in one process.
 */
export async function evaluate(opts: EvaluateOptions): Promise<Evaluation> {
    const mocks = {
        newResource: (args: MockResourceArgs): MockResourceResult => simulateResource(args, opts.simulation),
        call: (args: MockCallArgs): Record<string, unknown> => simulateCall(args, opts.simulation),
    };
    const monitor = new RecordingMonitor(mocks);
    setMockOptions(monitor, opts.project, opts.stack, opts.dryRun ?? true);
    pulumi.runtime.setAllConfig(opts.config, opts.secretKeys);

    // A failing program rejects both the stack's outputs and its pending registrations; the
    // first failure is the one to report, the echoes must not crash the process.
    const echoes: unknown[] = [];
    const onRejection = (reason: unknown) => echoes.push(reason);
    process.on("unhandledRejection", onRejection);
    // Without an engine the SDK reports errors (a failed resource input, a throwing apply) through
    // console.error and only counts them; the CLI would fail the run, so the evaluation must too.
    const runtimeErrors: string[] = [];
    const consoleError = console.error;
    console.error = (...args: unknown[]) => {
        const text = args.map(String).join(" ");
        if (text.startsWith(RUNTIME_ERROR_PREFIX)) runtimeErrors.push(text.slice(RUNTIME_ERROR_PREFIX.length).trim());
        else consoleError(...args);
    };
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(
            () => reject(new Error(`the program did not finish within ${timeoutMs / 1000} s: a resource input probably failed (for example an apply that throws) and the stack's outputs wait on that resource`)),
            timeoutMs,
        );
        timer.unref();
    });
    try {
        await Promise.race([
            (async () => {
                await pulumi.runtime.runInPulumiStack(async () => (await opts.program()) ?? {});
                await disconnect();
            })(),
            stalled,
        ]);
        if (echoes.length > 0) throw echoes[0];
        if (pulumi.log.hasErrors()) throw new Error(runtimeErrors[0] ?? "the program reported an error");
        const [leaks] = pendingOperations();
        if (leaks.size > 0) {
            throw new Error(
                `the program did not finish: ${leaks.size} Pulumi operations were still pending when it returned, which happens when a resource input fails (for example an apply that throws)`,
            );
        }
    } catch (err) {
        throw new EvaluationError(opts.stack, err);
    } finally {
        // Let rejections already queued surface to the handler before it is removed.
        await new Promise((resolve) => setImmediate(resolve));
        process.off("unhandledRejection", onRejection);
        console.error = consoleError;
        clearTimeout(timer);
    }
    return { stack: opts.stack, resources: monitor.recorded, outputs: stackOutputs(monitor) };
}
