// Benchmark 3: policy throughput. The pack runs over synthetic stacks (bench/policyStacks.ts) of
// 10 to 10,000 resources through the interface the preview uses: startPolicyPack(), then
// analyze(resources, {stack, config}) per stack (Analyze per resource, then AnalyzeStack). Every
// measurement gets a fresh pack, as every preview does (its start-up is reported on its own),
// and each run visits the candidates in an order rotated per run. Growth is judged between the
// two largest sizes, where fixed costs (configuring the pack per call) no longer dominate.
//
// Where the time goes, at one size, in the same runs: the real pack against two generated packs
// served the same way: the pack's own policies (names, schemas, levels) with every validator
// replaced by a no-op (what @pulumi/policy costs per policy: it deserializes the properties once
// per policy and resource), and a pack of one no-op resource policy and one no-op stack policy
// (gRPC and the SDK's base cost); plus analyze()'s own Struct building in the caller, timed alone.
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { Struct, type JavaScriptValue } from "google-protobuf/google/protobuf/struct_pb";
import { POLICY_CONFIG_DIR, POLICY_PACK_DIR, startPolicyPack, type PolicyInputResource } from "../preview/policyRunner";
import { log, makeTempDir, median, PROJECT_DIR, rotated, round, table, verdict } from "./measure";
import { SYNTHETIC_STACK, syntheticStack, typeMix } from "./policyStacks";
import { evaluateFleet, FLEET_SHAPES, shapeName, type FleetRingEvaluation } from "./syntheticFleet";

export const DEFAULT_POLICY_SIZES = [10, 100, 1000, 10000];
const LARGEST_TARGET_MS = 2000;
/** Per-resource time at the largest size may be at most this many times that at the next size down. */
const LINEAR_TOLERANCE = 1.5;

export const DEFAULT_DECOMPOSITION_SIZE = 1000;

export interface PolicySizeResult {
    resources: number;
    medianMs: number;
    runsMs: number[];
    perResourceUs: number;
    violations: number;
    mandatoryViolations: number;
}

export interface PolicyThroughputResult {
    runs: number;
    stack: string;
    packStartupMs: number;
    packStartupRunsMs: number[];
    sizes: PolicySizeResult[];
    typeMix: Record<string, number>;
    linearity: { from: number; to: number; perResourceRatio: number; tolerance: number; met: boolean };
    largest: { resources: number; medianMs: number; targetMs: number; met: boolean };
    decomposition: Decomposition;
    fleet: FleetPolicyResult;
}

/** The program's own rings as a synthetic fleet (bench/syntheticFleet.ts), each analyzed with its ring's policy configuration. */
export interface FleetPolicyResult {
    shapes: Array<{
        shape: string;
        /** Resources per ring, and in all three. */
        resources: Record<string, number>;
        /** Median analyze() ms per ring, and summed. */
        analyzeMs: Record<string, number>;
        perResourceUs: number;
        mandatoryViolations: number;
    }>;
    /** Per-resource time at the largest shape / at the smallest. */
    perResourceRatio: number;
    tolerance: number;
    met: boolean;
}

export interface Decomposition {
    resources: number;
    /** Median analyze() ms per pack. */
    realPackMs: number;
    noopPoliciesMs: number;
    transportOnlyMs: number;
    /** analyze()'s own serialization in the caller's process, measured alone. */
    clientSerializationMs: number;
    /** Struct.fromJavaScript once per resource, measured alone: what serializing could cost. */
    /** The split of the real pack's time, per resource (microseconds). */
    perResourceUs: { clientSerialization: number; grpcAndSdkBase: number; sdkPerPolicyOverhead: number; policyLogic: number };
}

const NOOP_PACKS = {
    "no-op validators": `import { PolicyPack } from "@pulumi/policy";
import { policies } from ${JSON.stringify(path.join(POLICY_PACK_DIR, "policies"))};

new PolicyPack("bench-noop-validators", {
    policies: policies.map((p) => ("validateStack" in p ? { ...p, validateStack: () => undefined } : { ...p, validateResource: () => undefined })),
});
`,
    "transport only": `import { PolicyPack } from "@pulumi/policy";

new PolicyPack("bench-transport-only", {
    policies: [
        { name: "noop-resource", description: "Does nothing.", enforcementLevel: "advisory", validateResource: () => undefined },
        { name: "noop-stack", description: "Does nothing.", enforcementLevel: "advisory", validateStack: () => undefined },
    ],
});
`,
} as const;

function writePack(tmp: string, name: string, source: string): string {
    const dir = path.join(tmp, name.replace(/\W+/g, "-"));
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "index.ts"), source);
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: `bench-${path.basename(dir)}`, version: "0.0.0", private: true }));
    fs.writeFileSync(path.join(dir, "PulumiPolicy.yaml"), "runtime: nodejs\ndescription: Generated by bench/policyThroughput.ts.\n");
    fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(dir, "node_modules"), "dir");
    return dir;
}

interface Measured {
    startupMs: number;
    analyzeMs: number;
    violations: number;
    mandatory: number;
}

/** A fresh pack, as each preview gets: its start-up, then one analyze() of the stack (cold, as in a preview). */
async function measurePack(packDir: string, resources: PolicyInputResource[], config: string | null, stack = SYNTHETIC_STACK): Promise<Measured> {
    const start = performance.now();
    const pack = startPolicyPack({ packDir });
    try {
        await pack.analyze([], { stack, config: null });
        const startupMs = performance.now() - start;
        const t0 = performance.now();
        const violations = await pack.analyze(resources, { stack, config });
        return { startupMs, analyzeMs: performance.now() - t0, violations: violations.length, mandatory: violations.filter((v) => v.enforcementLevel === "mandatory").length };
    } finally {
        await pack.close();
    }
}

/**
 * What analyze() does to the resources in the caller's process before gRPC: one Struct per
 * distinct property bag (inputs, and outputs where they differ); the recorded properties are in
 * wire form already, so nothing goes through the SDK's serializeProperties.
 */
function clientSerializationMs(resources: PolicyInputResource[]): number {
    const t0 = performance.now();
    for (const r of resources) {
        Struct.fromJavaScript(r.inputs as Record<string, JavaScriptValue>);
        if (r.outputs && r.outputs !== r.inputs) Struct.fromJavaScript(r.outputs as Record<string, JavaScriptValue>);
    }
    return performance.now() - t0;
}

const REAL_CONFIG = path.join(POLICY_CONFIG_DIR, `${SYNTHETIC_STACK}.json`);

export async function benchPolicyThroughput(runs: number, sizes: number[] = DEFAULT_POLICY_SIZES, decompositionSize = DEFAULT_DECOMPOSITION_SIZE): Promise<PolicyThroughputResult> {
    const tmp = makeTempDir("policy");
    const stacks = new Map<number, PolicyInputResource[]>([...sizes, decompositionSize].map((n) => [n, syntheticStack(n)]));
    // Candidates: the real pack at every size, and the three packs of the split at one size.
    const SPLIT = ["real pack", ...Object.keys(NOOP_PACKS)];
    const packDirs = new Map<string, string>([["real pack", POLICY_PACK_DIR], ...Object.entries(NOOP_PACKS).map(([name, source]): [string, string] => [name, writePack(tmp, name, source)])]);
    log("policy throughput: evaluating the synthetic fleets");
    const fleets = new Map<string, FleetRingEvaluation[]>();
    for (const shape of FLEET_SHAPES) fleets.set(shapeName(shape), await evaluateFleet(shape));
    const fleetCandidates = [...fleets].flatMap(([shape, rings]) => rings.map((r) => `fleet ${shape} ${r.stack}`));
    const candidates = [...sizes.map((n) => `size ${n}`), ...SPLIT.filter((s) => s !== "real pack").map((s) => `split ${s}`), "split client serialization", ...fleetCandidates];
    const measured = new Map<string, Measured[]>();
    const push = (k: string, m: Measured) => measured.set(k, [...(measured.get(k) ?? []), m]);
    try {
        for (let r = 0; r < runs; r++) {
            log(`policy throughput: run ${r + 1}/${runs}`);
            for (const c of rotated(candidates, r)) {
                if (c.startsWith("fleet ")) {
                    const [, shape, stack] = c.split(" ");
                    const ring = fleets.get(shape)?.find((x) => x.stack === stack);
                    push(c, await measurePack(POLICY_PACK_DIR, ring?.resources ?? [], path.join(POLICY_CONFIG_DIR, `${stack}.json`), stack));
                } else if (c.startsWith("size ")) {
                    const n = Number(c.slice(5));
                    push(c, await measurePack(POLICY_PACK_DIR, stacks.get(n) ?? [], REAL_CONFIG));
                } else if (c === "split client serialization") {
                    push(c, { startupMs: 0, analyzeMs: clientSerializationMs(stacks.get(decompositionSize) ?? []), violations: 0, mandatory: 0 });
                } else {
                    const name = c.slice(6);
                    // The real pack's configuration wherever the pack has the same policies.
                    push(c, await measurePack(packDirs.get(name) ?? "", stacks.get(decompositionSize) ?? [], name === "transport only" ? null : REAL_CONFIG));
                }
            }
            // The real pack at the split's size, when that is not one of the sizes measured anyway.
            if (!sizes.includes(decompositionSize)) push(`size ${decompositionSize}`, await measurePack(POLICY_PACK_DIR, stacks.get(decompositionSize) ?? [], REAL_CONFIG));
        }
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
    const analyze = (k: string) => median((measured.get(k) ?? []).map((m) => m.analyzeMs));
    const results: PolicySizeResult[] = sizes.map((n) => {
        const runsOf = measured.get(`size ${n}`) ?? [];
        const ms = analyze(`size ${n}`);
        return {
            resources: n,
            medianMs: round(ms),
            runsMs: runsOf.map((m) => round(m.analyzeMs)),
            perResourceUs: round((ms * 1000) / n, 0),
            violations: runsOf[0]?.violations ?? 0,
            mandatoryViolations: runsOf[0]?.mandatory ?? 0,
        };
    });
    const startups = sizes.flatMap((n) => (measured.get(`size ${n}`) ?? []).map((m) => m.startupMs));
    const sorted = [...results].sort((a, b) => a.resources - b.resources);
    const [prev, last] = [sorted[sorted.length - 2] ?? sorted[0], sorted[sorted.length - 1]];
    const perResourceRatio = round(last.perResourceUs / prev.perResourceUs, 2);
    const [real, noop, transport, client] = [`size ${decompositionSize}`, "split no-op validators", "split transport only", "split client serialization"].map(analyze);
    const us = (ms: number) => round((ms * 1000) / decompositionSize, 0);
    const fleetShapes = [...fleets].map(([shape, rings]) => {
        const resources: Record<string, number> = Object.fromEntries(rings.map((r) => [r.stack, r.resources.length]));
        const analyzeMs: Record<string, number> = Object.fromEntries(rings.map((r) => [r.stack, round(analyze(`fleet ${shape} ${r.stack}`))]));
        const total = rings.reduce((n, r) => n + r.resources.length, 0);
        const totalMs = rings.reduce((ms, r) => ms + analyze(`fleet ${shape} ${r.stack}`), 0);
        const mandatory = rings.reduce((n, r) => n + ((measured.get(`fleet ${shape} ${r.stack}`) ?? [])[0]?.mandatory ?? 0), 0);
        return { shape, resources: { ...resources, all: total }, analyzeMs: { ...analyzeMs, all: round(totalMs) }, perResourceUs: round((totalMs * 1000) / total, 0), mandatoryViolations: mandatory };
    });
    const fleetRatio = round(fleetShapes[fleetShapes.length - 1].perResourceUs / fleetShapes[0].perResourceUs, 2);
    return {
        runs,
        stack: SYNTHETIC_STACK,
        packStartupMs: round(median(startups)),
        packStartupRunsMs: startups.map((t) => round(t)),
        sizes: results,
        typeMix: typeMix(stacks.get(last.resources) ?? []),
        linearity: { from: prev.resources, to: last.resources, perResourceRatio, tolerance: LINEAR_TOLERANCE, met: perResourceRatio <= LINEAR_TOLERANCE },
        largest: { resources: last.resources, medianMs: last.medianMs, targetMs: LARGEST_TARGET_MS, met: last.medianMs < LARGEST_TARGET_MS },
        fleet: { shapes: fleetShapes, perResourceRatio: fleetRatio, tolerance: LINEAR_TOLERANCE, met: fleetRatio <= LINEAR_TOLERANCE },
        decomposition: {
            resources: decompositionSize,
            realPackMs: round(real),
            noopPoliciesMs: round(noop),
            transportOnlyMs: round(transport),
            clientSerializationMs: round(client),
            perResourceUs: {
                clientSerialization: us(client),
                grpcAndSdkBase: us(transport - client),
                sdkPerPolicyOverhead: us(noop - transport),
                policyLogic: us(real - noop),
            },
        },
    };
}

export function renderPolicyThroughput(r: PolicyThroughputResult): string {
    const sizes = table(
        `Policy throughput, stack "${r.stack}" (median of ${r.runs} runs; pack start-up ${r.packStartupMs} ms, not included)`,
        ["resources", "analyze", "per resource", "violations (mandatory)"],
        r.sizes.map((s) => [s.resources, `${s.medianMs} ms`, `${s.perResourceUs} us`, `${s.violations} (${s.mandatoryViolations})`]),
    );
    const targets = table(
        "Policy throughput targets",
        ["target", "measured", "verdict"],
        [
            [`linear: per-resource time at ${r.linearity.to} <= ${r.linearity.tolerance}x that at ${r.linearity.from}`, `${r.linearity.perResourceRatio}x`, verdict(r.linearity.met)],
            [`${r.largest.resources} resources < ${r.largest.targetMs} ms`, `${r.largest.medianMs} ms`, verdict(r.largest.met)],
        ],
    );
    const mix = `Mix at ${r.largest.resources}: ${Object.entries(r.typeMix)
        .map(([t, n]) => `${t.split(":").pop()} ${n}`)
        .join(", ")}`;
    const d = r.decomposition;
    const split = table(
        `Where the pack's time goes at ${d.resources} resources (median; fresh packs, interleaved with the sizes)`,
        ["part", "how it is measured", "per resource"],
        [
            ["client serialization", `a Struct per distinct property bag (inputs; outputs where they differ), alone: ${d.clientSerializationMs} ms`, `${d.perResourceUs.clientSerialization} us`],
            ["gRPC + @pulumi/policy base", `pack of 1 no-op resource + 1 no-op stack policy (${d.transportOnlyMs} ms) - client serialization`, `${d.perResourceUs.grpcAndSdkBase} us`],
            ["@pulumi/policy per policy", `the pack's policies with no-op validators (${d.noopPoliciesMs} ms) - transport`, `${d.perResourceUs.sdkPerPolicyOverhead} us`],
            ["the policies' own logic", `real pack (${d.realPackMs} ms) - no-op validators`, `${d.perResourceUs.policyLogic} us`],
        ],
    );
    const f = r.fleet;
    const fleet = table(
        `The program's rings as a synthetic fleet (images x pools per ring; median analyze() per ring with its policy/config/<ring>.json; per-resource ratio ${f.perResourceRatio}x, target <= ${f.tolerance}x: ${verdict(f.met)})`,
        ["fleet", "resources test/pilot/prod", "analyze test/pilot/prod", "all rings", "per resource", "mandatory violations"],
        f.shapes.map((s) => [
            s.shape,
            `${s.resources.test}/${s.resources.pilot}/${s.resources.prod}`,
            `${s.analyzeMs.test}/${s.analyzeMs.pilot}/${s.analyzeMs.prod} ms`,
            `${s.analyzeMs.all} ms (${s.resources.all})`,
            `${s.perResourceUs} us`,
            s.mandatoryViolations,
        ]),
    );
    return [sizes, targets, split, mix, fleet].join("\n\n");
}
