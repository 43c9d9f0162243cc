// Shared measuring helpers: medians, child processes timed from the parent, peak memory from a
// reporter preloaded into the child, and plain-text tables. Timings are wall clock (the machine
// is shared, so every figure that matters is a ratio against a reference measured in the same run).
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";

export const PROJECT_DIR = path.resolve(__dirname, "..");
export const TSX = path.join(PROJECT_DIR, "node_modules", ".bin", "tsx");
export const TSC = path.join(PROJECT_DIR, "node_modules", "typescript", "bin", "tsc");

export function median(values: readonly number[]): number {
    if (values.length === 0) return NaN;
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function round(value: number, digits = 1): number {
    const f = 10 ** digits;
    return Math.round(value * f) / f;
}

/** Run `r` visits the candidates rotated by `r`, so no candidate always runs first (cold caches) or last. */
export function rotated<T>(items: readonly T[], r: number): T[] {
    const k = items.length === 0 ? 0 : r % items.length;
    return [...items.slice(k), ...items.slice(0, k)];
}

export interface ChildRun {
    wallMs: number;
    exitCode: number;
    stdout: string;
    stderr: string;
    /** Peak resident set size of the child in MB, when it ran with the reporter preloaded. */
    maxRssMb?: number;
}

const RSS_MARKER = "__bench_max_rss_kb=";

/**
 * A CommonJS file to preload with `node --require`: on exit it prints the process's peak RSS
 * (process.resourceUsage().maxRSS, in KB) to stderr, synchronously so a process.exit() keeps it.
 */
export function writeMaxRssReporter(dir: string): string {
    const file = path.join(dir, "max-rss-reporter.cjs");
    fs.writeFileSync(file, `process.on("exit", () => { require("node:fs").writeSync(2, "\\n${RSS_MARKER}" + process.resourceUsage().maxRSS + "\\n"); });\n`);
    return file;
}

/** Runs a command to completion, timing it from spawn to exit as the parent sees it. */
export function runChild(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ChildRun> {
    return new Promise((resolve, reject) => {
        const start = performance.now();
        const child = spawn(command, args, { cwd: options.cwd ?? PROJECT_DIR, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
        child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
        const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 180_000);
        child.on("error", (err) => {
            clearTimeout(timer);
            reject(err);
        });
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            const wallMs = performance.now() - start;
            const m = new RegExp(`${RSS_MARKER}(\\d+)`).exec(stderr);
            resolve({
                wallMs,
                exitCode: code ?? (signal ? 128 : 1),
                stdout,
                stderr: stderr.replace(new RegExp(`\\n?${RSS_MARKER}\\d+\\n?`), ""),
                maxRssMb: m ? Number(m[1]) / 1024 : undefined,
            });
        });
    });
}

export function makeTempDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `avd-bench-${prefix}-`));
}

/** A plain-text table, columns padded to their widest cell; numbers right-aligned. */
export function table(title: string, headers: string[], rows: Array<Array<string | number>>): string {
    const cells = rows.map((r) => r.map((c) => (typeof c === "number" ? String(c) : c)));
    const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
    const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number" || /^[-\d.,x%<>]+( ?(ms|s|MB))?$/.test(String(r[i]))));
    const line = (r: string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
    return [title, line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

export function verdict(met: boolean): string {
    return met ? "met" : "MISSED";
}

export function log(text: string): void {
    process.stderr.write(`${text}\n`);
}
