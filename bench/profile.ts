// A CPU profile of something that runs in this process (node:inspector), summarised as the
// inclusive time of the project's own functions: where a benchmark that misses its target
// spends its time, measured rather than guessed. The raw .cpuprofile is kept for a closer look
// (Chrome DevTools > Performance, or VS Code).
import * as fs from "node:fs";
import { Session } from "node:inspector/promises";
import * as path from "node:path";
import { makeTempDir, PROJECT_DIR, round } from "./measure";

interface CallFrame {
    functionName: string;
    url: string;
    lineNumber: number;
}

interface ProfileNode {
    id: number;
    callFrame: CallFrame;
    children?: number[];
}

interface CpuProfile {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
}

export interface FunctionTime {
    /** `path/in/project.ts functionName` */
    fn: string;
    /** Time with this function on the stack (ms). */
    inclusiveMs: number;
}

export interface ProfileSummary {
    file: string;
    totalMs: number;
    /** Self time by area: the given project prefixes, packages, node's own modules, GC, idle (ms). */
    selfByArea: Record<string, number>;
    /** The project's functions by inclusive time, under each of the given path prefixes. */
    top: Record<string, FunctionTime[]>;
}

function projectPath(url: string): string | undefined {
    const file = url.startsWith("file://") ? new URL(url).pathname : url;
    if (!file.startsWith(PROJECT_DIR) || file.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
    return path.relative(PROJECT_DIR, file);
}

function areaOf(frame: CallFrame, prefixes: string[]): string {
    if (!frame.url) return /^\(.*\)$/.test(frame.functionName) ? frame.functionName : "(native)";
    const file = projectPath(frame.url);
    if (file !== undefined) return prefixes.find((p) => file.startsWith(p)) ?? "project: other";
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url);
    if (pkg) return pkg[1];
    // undici's HTTP parser is WebAssembly.
    if (frame.url.includes("internal/deps/undici") || frame.url.startsWith("wasm://")) return "node: undici (fetch)";
    const m = /^node:(?:internal\/)?([^/]+)/.exec(frame.url);
    return m ? `node: ${m[1]}` : frame.url;
}

export function summarise(profile: CpuProfile, prefixes: string[], limit = 8): Omit<ProfileSummary, "file"> {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const inclusive = new Map<string, number>();
    const self = new Map<string, number>();
    let total = 0;
    profile.samples.forEach((sample, i) => {
        const dt = profile.timeDeltas[i] ?? 0;
        total += dt;
        // Node's own code and native code (JSON.parse, file reads, regular expressions) count for the
        // project code or package that called them; what runs from the event loop alone keeps its own area.
        let area: string | undefined;
        let fallback = "(native)";
        for (let id: number | undefined = sample; id !== undefined && area === undefined; id = parent.get(id)) {
            const node = byId.get(id);
            if (!node) break;
            const a = areaOf(node.callFrame, prefixes);
            if (a.startsWith("(") && a !== "(native)") area = a;
            else if (!a.startsWith("node: ") && a !== "(native)") area = a;
            else if (fallback === "(native)") fallback = a;
        }
        area = area === undefined || area === "(root)" ? fallback : area;
        self.set(area, (self.get(area) ?? 0) + dt);
        const seen = new Set<string>();
        for (let id: number | undefined = sample; id !== undefined; id = parent.get(id)) {
            const node = byId.get(id);
            const file = node ? projectPath(node.callFrame.url) : undefined;
            if (!node || !file || !node.callFrame.functionName) continue;
            const key = `${file} ${node.callFrame.functionName}`;
            if (seen.has(key)) continue;
            seen.add(key);
            inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
        }
    });
    const top: Record<string, FunctionTime[]> = {};
    for (const prefix of prefixes) {
        top[prefix] = [...inclusive]
            .filter(([k]) => k.startsWith(prefix))
            .sort((a, b) => b[1] - a[1])
            .slice(0, limit)
            .map(([fn, us]) => ({ fn, inclusiveMs: round(us / 1000, 0) }));
    }
    const selfByArea = Object.fromEntries(
        [...self]
            .sort((a, b) => b[1] - a[1])
            .slice(0, limit + 4)
            .map(([area, us]) => [area, round(us / 1000, 0)]),
    );
    return { totalMs: round(total / 1000, 0), selfByArea, top };
}

/** Runs `what` under the sampling profiler; returns its result and the summary (the profile is written to a temp file). */
export async function profiled<T>(label: string, prefixes: string[], what: () => Promise<T>): Promise<{ value: T; profile: ProfileSummary }> {
    const session = new Session();
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 1000 });
    await session.post("Profiler.start");
    const outcome = await what().then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
    );
    const { profile } = (await session.post("Profiler.stop")) as { profile: CpuProfile };
    session.disconnect();
    if (!outcome.ok) throw outcome.error;
    const file = path.join(makeTempDir("profile"), `${label}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    return { value: outcome.value, profile: { file, ...summarise(profile, prefixes) } };
}
