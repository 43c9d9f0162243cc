// Benchmark 4: rollout scaling. The Manual-mode rollout (tools/rollout.ts main(), in-process as
// tests/rollout.test.ts drives it) against the local fake Azure REST API for 10 to 1,000 hosts,
// with the production ring's own settings: the environment the ImageRollout component would
// hand the tool, built from Pulumi.prod.yaml (10% batches, PT15M pause, 120 min drain timeout).
// Users are signed in on most hosts and sign out over a few polls once their host drains. The
// fake answers at once on a shared virtual clock (hours of waiting take no real time) and
// throttles at Azure Resource Manager's per-subscription rates (writes: bucket 200, refill 10/s;
// reads: 250, 25/s).
//
// Reported: Azure calls by method and kind, per host and per batch; throttled responses; early
// retries (requests sooner than a Retry-After allowed: must be 0); and the real time spent
// outside waits (total and per batch), with the fake's own request handling taken out.
import { performance } from "node:perf_hooks";
import type { Clock } from "../tools/azure/clock";
import { VirtualClock } from "../tools/azure/clock";
import { main, type RolloutResult } from "../tools/rollout";
import { parseRingConfig } from "../src/config/parse";
import { rolloutEnvironment } from "../src/rollout/commands";
import { readStackConfig } from "../preview/stackConfig";
import { ComputeModule } from "../tests/fakeAzure/compute";
import { DesktopVirtualizationModule } from "../tests/fakeAzure/desktopVirtualization";
import { FAKE_SUBSCRIPTION_ID, FakeAzure, type FakeAzureOptions, type RequestRecord, type RouteSpec } from "../tests/fakeAzure/server";
import { log, median, PROJECT_DIR, round, table, verdict } from "./measure";
import { profiled, type ProfileSummary } from "./profile";

export const DEFAULT_HOST_COUNTS = [10, 100, 1000];
const RING = "prod";
const TOKEN = "bench-rollout-token";
const RG = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-${RING}`;
const VMSS = `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-${RING}`;
const HOST_POOL = `${RG}/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-${RING}`;
const DEFINITION = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365`;
const OLD = `${DEFINITION}/versions/1.1.0`;
const NEW = `${DEFINITION}/versions/1.2.0`;
/** Azure Resource Manager's documented per-subscription limits (token bucket size, refill per second). */
export const ARM_THROTTLE = { writes: { capacity: 200, refillPerSecond: 10 }, reads: { capacity: 250, refillPerSecond: 25 } };
const OVERHEAD_PER_BATCH_TARGET_MS = 1000;

/** The environment the ImageRollout component gives tools/rollout.ts for the production ring. */
export function productionRolloutEnvironment(): Record<string, string> {
    const cfg = readStackConfig(PROJECT_DIR, RING);
    const prefix = `${cfg.project}:`;
    const values = Object.fromEntries(
        Object.entries(cfg.config)
            .filter(([k]) => k.startsWith(prefix))
            .map(([k, v]): [string, unknown] => [k.slice(prefix.length), /^\s*[[{]/.test(v) ? JSON.parse(v) : v]),
    );
    const ring = parseRingConfig({ stack: RING, values, secret: () => undefined });
    // The benchmark measures a whole rollout: prod's time box (maxRunMinutes) would end it after one share.
    // The ring's largest pool is the one whose rollout takes longest.
    const pool = Object.values(ring.hostPools).sort((a, b) => b.sessionHosts.capacity - a.sessionHosts.capacity)[0];
    const { AVD_MAX_RUN_MINUTES: _timeBox, ...env } = rolloutEnvironment(pool.sessionHosts, { vmssId: VMSS, hostPoolId: HOST_POOL, imageVersionId: NEW });
    return env;
}

/** The shared virtual clock, also counting the real time spent inside sleeps (the waits). */
class MeasuredClock implements Clock {
    realSleepMs = 0;
    constructor(private readonly inner: VirtualClock) {}
    now(): number {
        return this.inner.now();
    }
    async sleep(ms: number): Promise<void> {
        const t = performance.now();
        await this.inner.sleep(ms);
        this.realSleepMs += performance.now() - t;
    }
}

/** A fake whose route handlers are timed, so the fake's own work can be taken out of the tool's. */
function timedFake(options: FakeAzureOptions, timing: { handlerMs: number }): FakeAzure {
    class TimedFakeAzure extends FakeAzure {
        route(spec: RouteSpec): void {
            const handler = spec.handler;
            super.route({
                ...spec,
                handler: async (req) => {
                    const t = performance.now();
                    try {
                        return await handler(req);
                    } finally {
                        timing.handlerMs += performance.now() - t;
                    }
                },
            });
        }
    }
    return new TimedFakeAzure(options);
}

/** Users on roughly two hosts in three, one to three each, leaving one to four polls after their host drains. */
function signInUsers(dv: DesktopVirtualizationModule, hosts: number): number {
    let users = 0;
    for (let i = 0; i < hosts; i++) {
        if (i % 3 === 2) continue;
        const n = 1 + (i % 3) + (i % 5 === 0 ? 1 : 0);
        dv.addUserSessions(
            HOST_POOL,
            String(i),
            Array.from({ length: n }, (_, k) => ({ userPrincipalName: `user${i}-${k}@contoso.com`, endsAfterPolls: 1 + ((i + k) % 4) })),
        );
        users += n;
    }
    return users;
}

type CallKind = "list (first page)" | "list (nextLink page)" | "operation status" | "lock and marker tags" | "single-resource GET" | "write";

function kindOf(r: RequestRecord): CallKind {
    if (r.method !== "GET") return "write";
    if (/\/providers\/[^/]+\/locations\/[^/]+\/(operations|capsOperations)\//i.test(r.path)) return "operation status";
    // The rollout's lock lease and drained-host marker: read around every step, independent of the host count.
    if (/\/providers\/Microsoft\.Resources\/tags\/default$/i.test(r.path)) return "lock and marker tags";
    if (/\/(virtualMachines|sessionHosts|userSessions)$/i.test(r.path)) return /(\$|%24)skiptoken=/i.test(r.query) ? "list (nextLink page)" : "list (first page)";
    return "single-resource GET";
}

export interface RolloutRun {
    exitCode: number;
    result?: RolloutResult;
    realMs: number;
    realInWaitsMs: number;
    fakeHandlersMs: number;
    /** Real ms outside waits and outside the fake's handlers, per batch (from one batch's first line to the next's). */
    perBatchOverheadMs: number[];
    virtualHours: number;
    calls: Record<string, number>;
    callKinds: Record<CallKind, number>;
    throttled: number;
    earlyRetries: number;
    users: number;
    messages: number;
    sessionsLostToReimage: number;
    stderrTail: string[];
}

async function runOnce(hosts: number, env: Record<string, string>): Promise<RolloutRun> {
    const virtual = new VirtualClock();
    const clock = new MeasuredClock(virtual);
    const timing = { handlerMs: 0 };
    const compute = new ComputeModule();
    const dv = new DesktopVirtualizationModule({ compute });
    const fake = timedFake({ clock, acceptToken: TOKEN, throttle: ARM_THROTTLE }, timing);
    fake.use(compute);
    fake.use(dv);
    await fake.start();
    try {
        compute.addScaleSet({ id: VMSS, capacity: hosts, imageReferenceId: OLD, zones: ["1", "2", "3"], computerNamePrefix: "avdprd", upgradeMode: "Manual" });
        dv.addHostPool({ id: HOST_POOL, scaleSetId: VMSS, hostNameSuffix: ".contoso.local" });
        const users = signInUsers(dv, hosts);
        // What `pulumi up` did before the rollout command runs: the model references the new version.
        compute.setModelImage(VMSS, NEW);

        const stdout: string[] = [];
        const stderr: string[] = [];
        const marks: Array<{ real: number; wait: number; fake: number }> = [];
        const mark = () => marks.push({ real: performance.now(), wait: clock.realSleepMs, fake: timing.handlerMs });
        const startVirtual = virtual.now();
        const t0 = performance.now();
        const exitCode = await main(
            { ...env, AZURE_RESOURCE_MANAGER_ENDPOINT: fake.url, AVD_ARM_ACCESS_TOKEN: TOKEN },
            {
                stdout: (l) => stdout.push(l),
                stderr: (l) => {
                    if (/^\[[^\]]+\] batch \d+: /.test(l)) mark();
                    stderr.push(l);
                },
            },
            { clock },
        );
        const realMs = performance.now() - t0;
        mark();
        const perBatchOverheadMs = marks.slice(1).map((m, i) => m.real - marks[i].real - (m.wait - marks[i].wait) - (m.fake - marks[i].fake));
        const calls: Record<string, number> = {};
        const callKinds: Record<CallKind, number> = { "list (first page)": 0, "list (nextLink page)": 0, "operation status": 0, "lock and marker tags": 0, "single-resource GET": 0, write: 0 };
        for (const r of fake.requests) {
            calls[r.method] = (calls[r.method] ?? 0) + 1;
            callKinds[kindOf(r)] += 1;
        }
        const last = stdout[stdout.length - 1];
        return {
            exitCode,
            result: exitCode === 0 && last ? (JSON.parse(last) as RolloutResult) : undefined,
            realMs,
            realInWaitsMs: clock.realSleepMs,
            fakeHandlersMs: timing.handlerMs,
            perBatchOverheadMs,
            virtualHours: (virtual.now() - startVirtual) / 3_600_000,
            calls,
            callKinds,
            throttled: fake.requests.filter((r) => r.throttled).length,
            earlyRetries: fake.violations.length,
            users,
            messages: dv.messages.length,
            sessionsLostToReimage: dv.sessionsLostToReimage.length,
            // The failure's own line first: the tail is the per-host report table.
            stderrTail: [...stderr.filter((l) => l.startsWith("Error:")).slice(0, 1), ...stderr.slice(-3)],
        };
    } finally {
        await fake.stop();
    }
}

export interface RolloutSizeResult {
    hosts: number;
    users: number;
    exitCode: number;
    batches: number;
    instancesUpgraded: number;
    virtualHours: number;
    calls: Record<string, number>;
    totalCalls: number;
    callKinds: Record<CallKind, number>;
    callsPerHost: number;
    callsPerBatch: number;
    writesPerHost: number;
    firstPageListsPerBatch: number;
    throttled: number;
    earlyRetries: number;
    messages: number;
    sessionsLostToReimage: number;
    /** Real time, median over runs (ms). */
    realMs: number;
    realInWaitsMs: number;
    fakeHandlersMs: number;
    overheadMs: number;
    overheadPerBatchMs: number;
    maxBatchOverheadMs: number;
    runsOverheadMs: number[];
}

export interface RolloutScalingResult {
    runs: number;
    settings: Record<string, string>;
    throttle: typeof ARM_THROTTLE;
    sizes: RolloutSizeResult[];
    targets: {
        callsGrowWithBatches: { met: boolean; detail: string };
        noEarlyRetry: { met: boolean; detail: string };
        overheadPerBatch: { met: boolean; targetMs: number; worstMs: number };
    };
    /** With --profile: one more rollout at the largest size under the CPU profiler (not in the figures above). */
    profile?: { hosts: number; summary: ProfileSummary };
    failures: string[];
}

export async function benchRolloutScaling(runs: number, hostCounts: number[] = DEFAULT_HOST_COUNTS, profile = false): Promise<RolloutScalingResult> {
    const env = productionRolloutEnvironment();
    const failures: string[] = [];
    const sizes: RolloutSizeResult[] = [];
    for (const hosts of hostCounts) {
        const all: RolloutRun[] = [];
        for (let r = 0; r < runs; r++) {
            log(`rollout scaling: ${hosts} hosts, run ${r + 1}/${runs}`);
            const run = await runOnce(hosts, env);
            if (run.exitCode !== 0) failures.push(`${hosts} hosts run ${r + 1}: exit ${run.exitCode}: ${run.stderrTail.join(" | ")}`);
            all.push(run);
        }
        // Calls, batches and throttling are deterministic (virtual time); real time is the median.
        const first = all[0];
        const overheads = all.map((x) => x.realMs - x.realInWaitsMs - x.fakeHandlersMs);
        const batches = first.result?.batches ?? Math.max(1, first.perBatchOverheadMs.length);
        const totalCalls = Object.values(first.calls).reduce((a, b) => a + b, 0);
        sizes.push({
            hosts,
            users: first.users,
            exitCode: first.exitCode,
            batches,
            instancesUpgraded: first.result?.instancesUpgraded ?? 0,
            virtualHours: round(first.virtualHours, 1),
            calls: first.calls,
            totalCalls,
            callKinds: first.callKinds,
            callsPerHost: round(totalCalls / hosts, 1),
            callsPerBatch: round(totalCalls / batches, 1),
            writesPerHost: round(first.callKinds.write / hosts, 2),
            firstPageListsPerBatch: round(first.callKinds["list (first page)"] / batches, 1),
            throttled: first.throttled,
            earlyRetries: Math.max(...all.map((x) => x.earlyRetries)),
            messages: first.messages,
            sessionsLostToReimage: first.sessionsLostToReimage,
            realMs: round(median(all.map((x) => x.realMs))),
            realInWaitsMs: round(median(all.map((x) => x.realInWaitsMs))),
            fakeHandlersMs: round(median(all.map((x) => x.fakeHandlersMs))),
            overheadMs: round(median(overheads)),
            overheadPerBatchMs: round(median(overheads) / batches),
            maxBatchOverheadMs: round(median(all.map((x) => Math.max(0, ...x.perBatchOverheadMs)))),
            runsOverheadMs: overheads.map((o) => round(o)),
        });
    }
    let profileResult: RolloutScalingResult["profile"];
    if (profile) {
        const hosts = Math.max(...hostCounts);
        log(`rollout scaling: ${hosts} hosts under the CPU profiler`);
        const { profile: summary } = await profiled(`rollout-${hosts}-hosts`, ["tools/", "src/", "tests/fakeAzure/", "bench/"], () => runOnce(hosts, env));
        profileResult = { hosts, summary };
    }
    const [small, large] = [sizes[0], sizes[sizes.length - 1]];
    const singleGets = Math.max(...sizes.map((s) => s.callKinds["single-resource GET"]));
    const listsRatio = round(large.firstPageListsPerBatch / small.firstPageListsPerBatch, 2);
    const writesRatio = round(large.writesPerHost / small.writesPerHost, 2);
    const worst = Math.max(...sizes.map((s) => s.maxBatchOverheadMs));
    const early = sizes.reduce((sum, s) => sum + s.earlyRetries, 0);
    return {
        runs,
        settings: Object.fromEntries(Object.entries(env).filter(([k]) => !/^AVD_(VMSS|HOST_POOL|IMAGE_VERSION)_ID$/.test(k))),
        throttle: ARM_THROTTLE,
        sizes,
        targets: {
            callsGrowWithBatches: {
                met: singleGets <= 1 && listsRatio <= 1.5 && writesRatio <= 1.5,
                detail: `single-resource GETs per rollout: ${singleGets} (the scale set's model; no per-host reads); list calls per batch ${small.firstPageListsPerBatch} at ${small.hosts} hosts, ${large.firstPageListsPerBatch} at ${large.hosts} (${listsRatio}x); writes per host ${small.writesPerHost}, ${large.writesPerHost} (${writesRatio}x)`,
            },
            noEarlyRetry: { met: early === 0, detail: `${early} request(s) sooner than a Retry-After allowed` },
            overheadPerBatch: { met: worst < OVERHEAD_PER_BATCH_TARGET_MS, targetMs: OVERHEAD_PER_BATCH_TARGET_MS, worstMs: worst },
        },
        profile: profileResult,
        failures,
    };
}

export function renderRolloutScaling(r: RolloutScalingResult): string {
    const calls = table(
        `Rollout scaling, ${RING} settings (${r.settings.AVD_MAX_BATCH_PERCENT}% batches, pause ${r.settings.AVD_PAUSE_BETWEEN_BATCHES}, drain timeout ${r.settings.AVD_DRAIN_TIMEOUT_MINUTES} min); ARM throttling writes ${r.throttle.writes.capacity}@${r.throttle.writes.refillPerSecond}/s, reads ${r.throttle.reads.capacity}@${r.throttle.reads.refillPerSecond}/s`,
        ["hosts", "users", "batches", "virtual h", "calls", "GET/PATCH/POST/DELETE", "per host", "per batch", "lists/batch", "pages", "op polls", "throttled", "early retries"],
        r.sizes.map((s) => [
            s.hosts,
            s.users,
            s.batches,
            s.virtualHours,
            s.totalCalls,
            ["GET", "PATCH", "POST", "DELETE"].map((m) => s.calls[m] ?? 0).join("/"),
            s.callsPerHost,
            s.callsPerBatch,
            s.firstPageListsPerBatch,
            s.callKinds["list (nextLink page)"],
            s.callKinds["operation status"],
            s.throttled,
            s.earlyRetries,
        ]),
    );
    const time = table(
        `Real time (median of ${r.runs} run${r.runs === 1 ? "" : "s"}; waits are virtual)`,
        ["hosts", "total", "in waits", "fake handlers", "outside waits", "per batch", "worst batch"],
        r.sizes.map((s) => [s.hosts, `${s.realMs} ms`, `${s.realInWaitsMs} ms`, `${s.fakeHandlersMs} ms`, `${s.overheadMs} ms`, `${s.overheadPerBatchMs} ms`, `${s.maxBatchOverheadMs} ms`]),
    );
    const t = r.targets;
    const targets = table(
        "Rollout targets",
        ["target", "measured", "verdict"],
        [
            ["calls grow with batches, not with polling", t.callsGrowWithBatches.detail, verdict(t.callsGrowWithBatches.met)],
            ["no request retried sooner than Retry-After allows", t.noEarlyRetry.detail, verdict(t.noEarlyRetry.met)],
            [`overhead outside waits < ${t.overheadPerBatch.targetMs} ms per batch`, `worst batch ${t.overheadPerBatch.worstMs} ms`, verdict(t.overheadPerBatch.met)],
        ],
    );
    const areas = r.profile
        ? table(
              `Where the time goes at ${r.profile.hosts} hosts: self time by area (CPU profile of one more run)`,
              ["area", "self"],
              Object.entries(r.profile.summary.selfByArea).map(([area, ms]) => [area, `${ms} ms`]),
          )
        : undefined;
    const profile = r.profile
        ? table(
              `Where the time goes at ${r.profile.hosts} hosts (CPU profile of one more run, ${r.profile.summary.totalMs} ms sampled; inclusive; ${r.profile.summary.file})`,
              ["function", "inclusive"],
              Object.entries(r.profile.summary.top)
                  .filter(([prefix]) => prefix !== "bench/")
                  .flatMap(([, fns]) => fns)
                  .map((f) => [f.fn, `${f.inclusiveMs} ms`]),
          )
        : undefined;
    return [calls, time, targets, ...(areas && profile ? [areas, profile] : []), ...(r.failures.length ? [`failures:\n  ${r.failures.join("\n  ")}`] : [])].join("\n\n");
}
