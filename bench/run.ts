// `npm run bench [-- flags]`: the four benchmarks of docs/performance.md, one after another
// (never side by side: the machine has two cores). Prints a table per benchmark and the JSON,
// and writes bench/results.json. Progress goes to stderr.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { log, PROJECT_DIR, round, table, verdict } from "./measure";
import { benchPolicyThroughput, DEFAULT_DECOMPOSITION_SIZE, DEFAULT_POLICY_SIZES, renderPolicyThroughput, type PolicyThroughputResult } from "./policyThroughput";
import { benchPreviewLatency, renderPreviewLatency, type PreviewLatencyResult } from "./previewLatency";
import { benchRolloutScaling, DEFAULT_HOST_COUNTS, renderRolloutScaling, type RolloutScalingResult } from "./rolloutScaling";
import { benchRolloutStrategies, DEFAULT_STRATEGY_HOSTS, renderRolloutStrategies, type RolloutStrategiesResult } from "./rolloutStrategies";
import { benchTypecheck, renderTypecheck, type TypecheckResult } from "./typecheck";

const BENCHMARKS = ["preview", "typecheck", "policy", "rollout", "strategies"] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const USAGE = `usage: npm run bench -- [--runs N] [--rollout-runs N] [--only ${BENCHMARKS.join(",")}]
                        [--policy-sizes 10,100,1000,10000] [--policy-split-size N] [--hosts 10,100,1000]
                        [--strategy-hosts 60,300,1000] [--profile] [--out FILE]
  --runs N              runs per benchmark, interleaved; medians are reported (default 3)
  --rollout-runs N      runs of each rollout size (default 1: calls are deterministic, and each batch
                        is a sample of the per-batch overhead; a 1,000-host run takes minutes in the fake)
  --only LIST           run only these benchmarks (default: all)
  --policy-sizes LIST   synthetic stack sizes for the policy pack (default ${DEFAULT_POLICY_SIZES.join(",")})
  --policy-split-size N size at which the pack's time is split into its parts (default ${DEFAULT_DECOMPOSITION_SIZE})
  --hosts LIST          session hosts per rollout (default ${DEFAULT_HOST_COUNTS.join(",")})
  --strategy-hosts LIST session hosts per strategy simulation (default ${DEFAULT_STRATEGY_HOSTS.join(",")}): each
                        strategy rolls the same seeded ring; makespan against the physical lower bound
  --profile             one more rollout at the largest size under the CPU profiler: the tool's and the
                        fake's functions by inclusive time (not counted in the figures)
  --out FILE            where to write the JSON (default bench/results.json)`;

export interface BenchOptions {
    runs: number;
    rolloutRuns: number;
    only: Benchmark[];
    policySizes: number[];
    policySplitSize: number;
    hosts: number[];
    strategyHosts: number[];
    profile: boolean;
    out: string;
}

class UsageError extends Error {}

function positiveInt(flag: string, raw: string): number {
    if (!/^[1-9]\d*$/.test(raw)) throw new UsageError(`${flag} must be a positive whole number, got "${raw}"`);
    return Number(raw);
}

function intList(flag: string, raw: string): number[] {
    return raw.split(",").map((x) => positiveInt(flag, x.trim()));
}

export function parseBenchArgs(argv: string[]): BenchOptions {
    const opts: BenchOptions = {
        runs: 3,
        rolloutRuns: 1,
        only: [...BENCHMARKS],
        policySizes: DEFAULT_POLICY_SIZES,
        policySplitSize: DEFAULT_DECOMPOSITION_SIZE,
        hosts: DEFAULT_HOST_COUNTS,
        strategyHosts: DEFAULT_STRATEGY_HOSTS,
        profile: false,
        out: path.join(PROJECT_DIR, "bench", "results.json"),
    };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
        const value = (): string => {
            const v = inline ?? argv[++i];
            if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
            return v;
        };
        switch (flag) {
            case "--runs":
                opts.runs = positiveInt(flag, value());
                break;
            case "--rollout-runs":
                opts.rolloutRuns = positiveInt(flag, value());
                break;
            case "--only": {
                const names = value().split(",").map((s) => s.trim());
                const unknown = names.filter((n) => !(BENCHMARKS as readonly string[]).includes(n));
                if (unknown.length > 0) throw new UsageError(`--only: unknown benchmark(s) ${unknown.join(", ")}; choose from ${BENCHMARKS.join(", ")}`);
                opts.only = BENCHMARKS.filter((b) => names.includes(b));
                break;
            }
            case "--policy-sizes":
                opts.policySizes = intList(flag, value());
                break;
            case "--policy-split-size":
                opts.policySplitSize = positiveInt(flag, value());
                break;
            case "--hosts":
                opts.hosts = intList(flag, value());
                break;
            case "--strategy-hosts":
                opts.strategyHosts = intList(flag, value());
                break;
            case "--profile":
                opts.profile = true;
                break;
            case "--out":
                opts.out = path.resolve(value());
                break;
            case "--help":
            case "-h":
                throw new UsageError("");
            default:
                throw new UsageError(`unknown argument "${arg}"`);
        }
    }
    return opts;
}

interface TargetLine {
    benchmark: string;
    target: string;
    measured: string;
    met: boolean;
}

type Results = { preview?: PreviewLatencyResult; typecheck?: TypecheckResult; policy?: PolicyThroughputResult; rollout?: RolloutScalingResult; strategies?: RolloutStrategiesResult };

function targetLines(r: Results): TargetLine[] {
    const lines: TargetLine[] = [];
    for (const [name, c] of Object.entries(r.preview?.candidates ?? {})) {
        if (c.target !== undefined && c.met !== undefined) lines.push({ benchmark: "preview", target: `${name} <= ${c.target}x floor`, measured: `${c.ratioToFloor}x (${c.medianMs} ms)`, met: c.met });
    }
    if (r.preview && r.preview.fleet.shapes.length > 1) {
        const f = r.preview.fleet;
        const [small, large] = [f.shapes[0], f.shapes[f.shapes.length - 1]];
        lines.push({
            benchmark: "preview",
            target: `synthetic fleet grows linearly (evaluate + analyze per resource at ${large.shape} <= ${f.tolerance}x that at ${small.shape})`,
            measured: `${f.perResourceRatio}x (${small.perResourceMs} ms -> ${large.perResourceMs} ms)`,
            met: f.met,
        });
    }
    for (const [name, c] of Object.entries(r.typecheck?.candidates ?? {})) {
        if (!c.targets) continue;
        lines.push({ benchmark: "typecheck", target: `${name} < ${c.targets.seconds} s`, measured: `${c.medianSeconds} s`, met: c.targets.secondsMet });
        lines.push({ benchmark: "typecheck", target: `${name} < ${c.targets.memoryMb} MB peak RSS`, measured: `${c.medianMaxRssMb} MB`, met: c.targets.memoryMet });
    }
    if (r.policy) {
        const l = r.policy.linearity;
        lines.push({ benchmark: "policy", target: `linear growth (per-resource time at ${l.to} <= ${l.tolerance}x that at ${l.from})`, measured: `${l.perResourceRatio}x`, met: l.met });
        const g = r.policy.largest;
        lines.push({ benchmark: "policy", target: `${g.resources} resources < ${g.targetMs} ms`, measured: `${g.medianMs} ms`, met: g.met });
        const f = r.policy.fleet;
        const [small, large] = [f.shapes[0], f.shapes[f.shapes.length - 1]];
        lines.push({
            benchmark: "policy",
            target: `synthetic fleet grows linearly (per-resource time at ${large.shape} <= ${f.tolerance}x that at ${small.shape})`,
            measured: `${f.perResourceRatio}x (${small.perResourceUs} us -> ${large.perResourceUs} us)`,
            met: f.met,
        });
    }
    if (r.rollout) {
        const t = r.rollout.targets;
        lines.push({ benchmark: "rollout", target: "calls grow with batches, not with polling", measured: t.callsGrowWithBatches.detail, met: t.callsGrowWithBatches.met });
        lines.push({ benchmark: "rollout", target: "no request retried sooner than Retry-After allows", measured: t.noEarlyRetry.detail, met: t.noEarlyRetry.met });
        lines.push({ benchmark: "rollout", target: `overhead outside waits < ${t.overheadPerBatch.targetMs} ms per batch`, measured: `worst batch ${t.overheadPerBatch.worstMs} ms`, met: t.overheadPerBatch.met });
    }
    for (const t of r.strategies?.targets ?? []) lines.push({ benchmark: "strategies", ...t });
    return lines;
}

function gitCommit(): string | undefined {
    try {
        const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: PROJECT_DIR, encoding: "utf8" }).trim();
        const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: PROJECT_DIR, encoding: "utf8" }).trim() !== "";
        return dirty ? `${commit} (with uncommitted changes)` : commit;
    } catch {
        return undefined;
    }
}

async function main(): Promise<number> {
    let opts: BenchOptions;
    try {
        opts = parseBenchArgs(process.argv.slice(2));
    } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        process.stderr.write(`${err.message ? `${err.message}\n` : ""}${USAGE}\n`);
        return err.message ? 2 : 0;
    }
    const started = new Date();
    const t0 = performance.now();
    const loadBefore = os.loadavg();
    const results: Results = {};
    const rendered: string[] = [];
    for (const b of opts.only) {
        log(`== ${b}`);
        switch (b) {
            case "preview":
                results.preview = await benchPreviewLatency(opts.runs);
                rendered.push(renderPreviewLatency(results.preview));
                break;
            case "typecheck":
                results.typecheck = await benchTypecheck(opts.runs);
                rendered.push(renderTypecheck(results.typecheck));
                break;
            case "policy":
                results.policy = await benchPolicyThroughput(opts.runs, opts.policySizes, opts.policySplitSize);
                rendered.push(renderPolicyThroughput(results.policy));
                break;
            case "rollout":
                results.rollout = await benchRolloutScaling(opts.rolloutRuns, opts.hosts, opts.profile);
                rendered.push(renderRolloutScaling(results.rollout));
                break;
            case "strategies":
                results.strategies = await benchRolloutStrategies(opts.strategyHosts);
                rendered.push(renderRolloutStrategies(results.strategies));
                break;
        }
    }
    const targets = targetLines(results);
    const report = {
        startedAt: started.toISOString(),
        durationSeconds: round((performance.now() - t0) / 1000, 1),
        machine: {
            cpus: os.cpus().length,
            cpuModel: os.cpus()[0]?.model ?? "unknown",
            memoryGb: round(os.totalmem() / 1024 ** 3, 1),
            node: process.version,
            platform: `${os.platform()} ${os.release()}`,
            loadAverage1mBefore: round(loadBefore[0], 2),
            loadAverage1mAfter: round(os.loadavg()[0], 2),
        },
        commit: gitCommit(),
        options: { ...opts, out: path.relative(PROJECT_DIR, opts.out) },
        targets,
        results,
    };
    const summary = table("Targets", ["benchmark", "target", "measured", "verdict"], targets.map((t) => [t.benchmark, t.target, t.measured, verdict(t.met)]));
    process.stdout.write(`${[...rendered, summary].join("\n\n")}\n\n${JSON.stringify(report, null, 2)}\n`);
    fs.writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${path.relative(process.cwd(), opts.out)} (${report.durationSeconds} s)`);
    return 0;
}

main().then(
    (code) => process.exit(code),
    (err: unknown) => {
        process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exit(1);
    },
);
