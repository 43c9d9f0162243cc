// Benchmark 1: offline preview latency. Each run visits every candidate once, in an order
// rotated per run: the floor (a bare node process that only loads @pulumi/pulumi and the
// azure-native submodules the program imports), node with the preview's TypeScript loader running
// an empty script, what `npm run preview -- --stack <ring>` runs (`node --require
// ./preview/loader.cjs preview/main.ts`) per ring and for all three rings,
// and the in-process breakdown (bench/previewBreakdown.ts). Ratios are taken per run against
// that run's floor, then the median over runs.
//
// Every candidate runs with a small preloaded reporter (NODE_OPTIONS --require): in the process
// that spawns the policy pack it records when the pack was spawned and when it first wrote to
// stdout (its port), so the CLI's critical path is measured, not inferred.
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { log, makeTempDir, median, rotated, round, runChild, table, TSX, verdict } from "./measure";

/** Every azure-native submodule index.ts, components/ and src/ import at run time (`grep -rn '@pulumi/azure-native/' index.ts components src`). */
export const PROGRAM_AZURE_NATIVE_SUBMODULES = ["resources", "compute", "desktopvirtualization", "authorization", "managedidentity", "virtualmachineimages"];

const RINGS = ["test", "pilot", "prod"];
const ONE_RING_TARGET = 2;
/** Per-resource preview work on the largest synthetic fleet may be at most this many times that on the smallest. */
const FLEET_LINEAR_TOLERANCE = 1.5;
const ALL_RINGS_TARGET = 3;

interface Candidate {
    name: string;
    command: string;
    args: string[];
    /** Times the floor this candidate may take; undefined = reference only. */
    target?: number;
    /** A preview: exit 0 or 1 is an answer, anything else a failure. */
    preview: boolean;
}

interface Timeline {
    /** ms from the parent spawning the command to the process that runs the preview starting. */
    launcherMs: number;
    /** ms from that process starting to it spawning the policy pack (boot and module loading). */
    toPackSpawnMs: number;
    /** ms from spawning the pack to its first stdout line (its port): the pack's start-up. */
    packStartupMs: number;
    /** ms from the pack being up to the process exiting (analysis, rendering, closing the pack). */
    packReadyToExitMs: number;
}

export interface PreviewCandidateResult {
    medianMs: number;
    runsMs: number[];
    /** Median over runs of (this run's time / this run's floor). */
    ratioToFloor: number;
    target?: number;
    met?: boolean;
    timeline?: Timeline;
}

export interface BreakdownResult {
    startupToScriptMs: number;
    loadPulumiMs: number;
    loadAzureNativeMs: number;
    loadProgramMs: number;
    packStartupMs: number;
    packCloseMs: number;
    evaluateMs: Record<string, number>;
    analyzeMs: Record<string, number>;
    runPreviewWarmMs: Record<string, number>;
    resources: Record<string, number>;
    violations: Record<string, number>;
    totalMs: number;
    /** Synthetic fleets by shape ("1x1", "10x20"): per ring, resources and the in-process evaluate and analyze ms. */
    fleet: Record<string, FleetBreakdown>;
}

export interface FleetBreakdown {
    resources: Record<string, number>;
    evaluateMs: Record<string, number>;
    analyzeMs: Record<string, number>;
}

/** The preview's work on a synthetic fleet, summed over the three rings (median over runs). */
export interface FleetPreviewResult {
    shapes: Array<{ shape: string; resources: number; evaluateMs: number; analyzeMs: number; perResourceMs: number }>;
    /** Per-resource (evaluate + analyze) at the largest shape / at the smallest. */
    perResourceRatio: number;
    tolerance: number;
    met: boolean;
}

export interface PreviewLatencyResult {
    runs: number;
    floorModules: string[];
    candidates: Record<string, PreviewCandidateResult>;
    breakdown: BreakdownResult;
    fleet: FleetPreviewResult;
    failures: string[];
}

const TIMELINE_MARKER = "__bench_timeline=";

function writeTimelineReporter(dir: string): string {
    const file = path.join(dir, "timeline-reporter.cjs");
    fs.writeFileSync(
        file,
        `const cp = require("node:child_process");
const { performance } = require("node:perf_hooks");
const events = {};
const spawn = cp.spawn;
cp.spawn = function (command, args, options) {
    const child = spawn.apply(this, arguments);
    if (Array.isArray(args) && args.includes("index.ts") && options && /[\\\\/]policy[\\\\/]?$/.test(String(options.cwd))) {
        events.packSpawnMs = performance.now();
        if (child.stdout) child.stdout.once("data", () => { events.packReadyMs = performance.now(); });
    }
    return child;
};
process.on("exit", () => {
    if (events.packSpawnMs === undefined) return;
    require("node:fs").writeSync(2, "\\n${TIMELINE_MARKER}" + JSON.stringify({ ...events, exitMs: performance.now(), timeOrigin: performance.timeOrigin }) + "\\n");
});
`,
    );
    return file;
}

function parseTimeline(stderr: string, spawnedAtEpochMs: number): Timeline | undefined {
    const m = new RegExp(`${TIMELINE_MARKER}(\\{.*\\})`).exec(stderr);
    if (!m) return undefined;
    const t = JSON.parse(m[1]) as { packSpawnMs: number; packReadyMs?: number; exitMs: number; timeOrigin: number };
    if (t.packReadyMs === undefined) return undefined;
    return {
        launcherMs: t.timeOrigin - spawnedAtEpochMs,
        toPackSpawnMs: t.packSpawnMs,
        packStartupMs: t.packReadyMs - t.packSpawnMs,
        packReadyToExitMs: t.exitMs - t.packReadyMs,
    };
}

function medianTimeline(timelines: Timeline[]): Timeline | undefined {
    if (timelines.length === 0) return undefined;
    const pick = (k: keyof Timeline) => round(median(timelines.map((t) => t[k])));
    return { launcherMs: pick("launcherMs"), toPackSpawnMs: pick("toPackSpawnMs"), packStartupMs: pick("packStartupMs"), packReadyToExitMs: pick("packReadyToExitMs") };
}

function medianRecord(records: Array<Record<string, number>>): Record<string, number> {
    const keys = [...new Set(records.flatMap((r) => Object.keys(r)))];
    return Object.fromEntries(keys.map((k) => [k, round(median(records.map((r) => r[k]).filter((v) => Number.isFinite(v))))]));
}

/** What `npm run preview` runs (package.json), without npm's own start-up. */
const PREVIEW_NODE_ARGS = ["--require", "./preview/loader.cjs"];

export async function benchPreviewLatency(runs: number): Promise<PreviewLatencyResult> {
    const tmp = makeTempDir("preview");
    const reporter = writeTimelineReporter(tmp);
    const emptyScript = path.join(tmp, "empty.ts");
    fs.writeFileSync(emptyScript, "export {};\n");
    const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${reporter}`.trim() };
    const floorScript = `for (const m of ["@pulumi/pulumi", ${PROGRAM_AZURE_NATIVE_SUBMODULES.map((m) => JSON.stringify(`@pulumi/azure-native/${m}`)).join(", ")}]) require(m);`;
    const candidates: Candidate[] = [
        { name: "floor: node loading @pulumi/pulumi + azure-native submodules", command: process.execPath, args: ["-e", floorScript], preview: false },
        { name: "reference: node + preview/loader.cjs running an empty script", command: process.execPath, args: [...PREVIEW_NODE_ARGS, emptyScript], preview: false },
        ...RINGS.map((ring) => ({ name: `preview --stack ${ring}`, command: process.execPath, args: [...PREVIEW_NODE_ARGS, "preview/main.ts", "--stack", ring], target: ONE_RING_TARGET, preview: true })),
        { name: `preview --stack ${RINGS.join(",")}`, command: process.execPath, args: [...PREVIEW_NODE_ARGS, "preview/main.ts", "--stack", RINGS.join(",")], target: ALL_RINGS_TARGET, preview: true },
    ];
    const floorName = candidates[0].name;
    const BREAKDOWN = "breakdown";
    const times = new Map<string, number[]>(candidates.map((c) => [c.name, []]));
    const ratios = new Map<string, number[]>(candidates.map((c) => [c.name, []]));
    const timelines = new Map<string, Timeline[]>(candidates.map((c) => [c.name, []]));
    const breakdowns: BreakdownResult[] = [];
    const failures: string[] = [];

    for (let r = 0; r < runs; r++) {
        log(`preview latency: run ${r + 1}/${runs}`);
        const thisRun = new Map<string, number>();
        for (const name of rotated([...candidates.map((c) => c.name), BREAKDOWN], r)) {
            if (name === BREAKDOWN) {
                // It also evaluates the 10 x 20 synthetic fleet: minutes on a loaded machine.
                const res = await runChild(TSX, ["bench/previewBreakdown.ts"], { env, timeoutMs: 900_000 });
                const last = res.stdout.trim().split("\n").pop() ?? "";
                if (res.exitCode !== 0 || !last.startsWith("{")) failures.push(`breakdown run ${r + 1}: exit ${res.exitCode}: ${res.stderr.trim().slice(-500)}`);
                else breakdowns.push(JSON.parse(last) as BreakdownResult);
                continue;
            }
            const c = candidates.find((x) => x.name === name);
            if (!c) continue;
            const spawnedAt = performance.timeOrigin + performance.now();
            const res = await runChild(c.command, c.args, { env });
            const ok = c.preview ? (res.exitCode === 0 || res.exitCode === 1) && res.stdout.includes("Resources:") : res.exitCode === 0;
            if (!ok) {
                failures.push(`${c.name} run ${r + 1}: exit ${res.exitCode}: ${res.stderr.trim().slice(-500)}`);
                continue;
            }
            thisRun.set(c.name, res.wallMs);
            times.get(c.name)?.push(res.wallMs);
            const t = c.preview ? parseTimeline(res.stderr, spawnedAt) : undefined;
            if (t) timelines.get(c.name)?.push(t);
        }
        const floor = thisRun.get(floorName);
        if (floor === undefined) continue;
        for (const [name, ms] of thisRun) ratios.get(name)?.push(ms / floor);
    }

    const result: Record<string, PreviewCandidateResult> = {};
    for (const c of candidates) {
        const ratio = round(median(ratios.get(c.name) ?? []), 2);
        result[c.name] = {
            medianMs: round(median(times.get(c.name) ?? [])),
            runsMs: (times.get(c.name) ?? []).map((t) => round(t)),
            ratioToFloor: ratio,
            target: c.target,
            met: c.target === undefined ? undefined : ratio <= c.target,
            timeline: medianTimeline(timelines.get(c.name) ?? []),
        };
    }
    const pick = (k: "startupToScriptMs" | "loadPulumiMs" | "loadAzureNativeMs" | "loadProgramMs" | "packStartupMs" | "packCloseMs" | "totalMs") => round(median(breakdowns.map((b) => b[k])));
    const breakdown: BreakdownResult = {
        startupToScriptMs: pick("startupToScriptMs"),
        loadPulumiMs: pick("loadPulumiMs"),
        loadAzureNativeMs: pick("loadAzureNativeMs"),
        loadProgramMs: pick("loadProgramMs"),
        packStartupMs: pick("packStartupMs"),
        packCloseMs: pick("packCloseMs"),
        evaluateMs: medianRecord(breakdowns.map((b) => b.evaluateMs)),
        analyzeMs: medianRecord(breakdowns.map((b) => b.analyzeMs)),
        runPreviewWarmMs: medianRecord(breakdowns.map((b) => b.runPreviewWarmMs)),
        resources: breakdowns[0]?.resources ?? {},
        violations: breakdowns[0]?.violations ?? {},
        totalMs: pick("totalMs"),
        fleet: Object.fromEntries(
            Object.keys(breakdowns[0]?.fleet ?? {}).map((shape): [string, FleetBreakdown] => [
                shape,
                {
                    resources: breakdowns[0].fleet[shape].resources,
                    evaluateMs: medianRecord(breakdowns.map((b) => b.fleet[shape]?.evaluateMs ?? {})),
                    analyzeMs: medianRecord(breakdowns.map((b) => b.fleet[shape]?.analyzeMs ?? {})),
                },
            ]),
        ),
    };
    const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    const shapes = Object.entries(breakdown.fleet).map(([shape, f]) => {
        const resources = sum(f.resources);
        const [evaluateMs, analyzeMs] = [sum(f.evaluateMs), sum(f.analyzeMs)];
        return { shape, resources, evaluateMs: round(evaluateMs), analyzeMs: round(analyzeMs), perResourceMs: round((evaluateMs + analyzeMs) / Math.max(1, resources), 2) };
    });
    const fleetRatio = shapes.length > 1 ? round(shapes[shapes.length - 1].perResourceMs / shapes[0].perResourceMs, 2) : NaN;
    const fleet: FleetPreviewResult = { shapes, perResourceRatio: fleetRatio, tolerance: FLEET_LINEAR_TOLERANCE, met: fleetRatio <= FLEET_LINEAR_TOLERANCE };
    fs.rmSync(tmp, { recursive: true, force: true });
    return { runs, floorModules: ["@pulumi/pulumi", ...PROGRAM_AZURE_NATIVE_SUBMODULES.map((m) => `@pulumi/azure-native/${m}`)], candidates: result, breakdown, fleet, failures };
}

export function renderPreviewLatency(r: PreviewLatencyResult): string {
    const latency = table(
        `Offline preview latency (median of ${r.runs} interleaved runs; ratio = median of per-run ratios to that run's floor)`,
        ["candidate", "median", "x floor", "target", "verdict"],
        Object.entries(r.candidates).map(([name, c]) => [name, `${c.medianMs} ms`, `${c.ratioToFloor}x`, c.target === undefined ? "-" : `<= ${c.target}x`, c.met === undefined ? "-" : verdict(c.met)]),
    );
    const critical = table(
        "Critical path of the CLI (median ms; from the preloaded reporter)",
        ["candidate", "tsx launcher", "boot + module load", "pack start-up", "pack up -> exit"],
        Object.entries(r.candidates)
            .filter(([, c]) => c.timeline)
            .map(([name, c]) => {
                const t = c.timeline as Timeline;
                return [name, t.launcherMs, t.toPackSpawnMs, t.packStartupMs, t.packReadyToExitMs];
            }),
    );
    const b = r.breakdown;
    const steps: Array<[string, number]> = [
        ["node + tsx start-up to the script", b.startupToScriptMs],
        ["load @pulumi/pulumi (under tsx)", b.loadPulumiMs],
        ["load the azure-native submodules", b.loadAzureNativeMs],
        ["load the program and preview modules", b.loadProgramMs],
        ["policy pack start-up (spawn to serving)", b.packStartupMs],
        ...Object.entries(b.evaluateMs).map(([s, ms]): [string, number] => [`evaluate ${s} (${b.resources[s.split(" ")[0]] ?? "?"} resources)`, ms]),
        ...Object.entries(b.analyzeMs).map(([s, ms]): [string, number] => [`analyze ${s} (policy pack, ${b.violations[s] ?? 0} violations)`, ms]),
        ["close the policy pack", b.packCloseMs],
        ...Object.entries(b.runPreviewWarmMs).map(([s, ms]): [string, number] => [`runPreview ${s} in the warm process (pack start-up included)`, ms]),
    ];
    const breakdown = table("Preview breakdown, in-process and sequential (median ms)", ["step", "ms"], steps.map(([k, v]) => [k, v]));
    const fleet = table(
        `Synthetic fleet, all three rings, in-process (median ms; per-resource ratio ${r.fleet.perResourceRatio}x, target <= ${r.fleet.tolerance}x: ${verdict(r.fleet.met)})`,
        ["fleet (images x pools per ring)", "resources test/pilot/prod", "evaluate", "analyze", "per resource"],
        r.fleet.shapes.map((s) => {
            const f = r.breakdown.fleet[s.shape];
            return [s.shape, `${f.resources.test}/${f.resources.pilot}/${f.resources.prod}`, `${s.evaluateMs} ms`, `${s.analyzeMs} ms`, `${s.perResourceMs} ms`];
        }),
    );
    return [latency, critical, breakdown, fleet, ...(r.failures.length ? [`failures:\n  ${r.failures.join("\n  ")}`] : [])].join("\n\n");
}
