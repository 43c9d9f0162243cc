// Benchmark 5: rollout strategies against the physical limit. The real rollout (tools/rollout.ts
// main(), in-process) against the fake Azure on the virtual clock, with the production ring's
// settings, for 60, 300 and 1,000 hosts and each strategy, in a seeded scenario whose durations
// are documented and justified in docs/performance.md ("5. Rollout strategies"): reimage or new
// instance provisioning, agent registration, the health probe, the AVD heartbeat, and how long
// users take to sign out after the warning (some never do before the drain timeout).
//
// Reported per size and strategy:
// - makespan / lower bound, the lower bound for step size b being
//   max(max_i(d_i + u_i), sum_i(d_i + u_i) / b) with d_i host i's drain time (its last user gone)
//   and u_i its update time (reimage: the reimage until healthy and Available; surge: the new
//   instance until healthy and Available), both known from the scenario; target <= 1.25 paced;
// - the lowest share of the configured capacity accepting new sessions (the fake samples after
//   every request it answers); target 100% for surge;
// - Azure calls per host, and requests sooner than a Retry-After allowed (must be 0).
//
// A scale set holds at most 1,000 instances, and a surge adds a step above the capacity, so a
// 1,000-host ring that surges is two host pools of 500 (the fleet form): their rollouts run at
// once, as Pulumi runs them, against one fake (one subscription's throttling) on one clock.
import { performance } from "node:perf_hooks";
import { batchSize } from "../src/rollout/planner";
import { surgeHeadroomProblem } from "../src/tools/environment";
import { VirtualClock } from "../tools/azure/clock";
import { main, type RolloutResult } from "../tools/rollout";
import { ComputeModule } from "../tests/fakeAzure/compute";
import { ComputeCapacityModule } from "../tests/fakeAzure/computeCapacity";
import { DesktopVirtualizationModule, type UserSessionSeed } from "../tests/fakeAzure/desktopVirtualization";
import { NetworkModule } from "../tests/fakeAzure/network";
import { FAKE_SUBSCRIPTION_ID, FakeAzure, seededRandom } from "../tests/fakeAzure/server";
import { log, round, table, verdict } from "./measure";
import { ARM_THROTTLE, productionRolloutEnvironment } from "./rolloutScaling";

export const DEFAULT_STRATEGY_HOSTS = [60, 300, 1000];
const TOKEN = "bench-strategies-token";
const RG = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-prod`;
/** Scale set and host pool of the ring's pool `k` (of `n`): the single pool keeps prod's names. */
const vmssId = (k: number, n: number) => `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-prod${n > 1 ? `-${k + 1}` : ""}`;
const hostPoolId = (k: number, n: number) => `${RG}/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-prod${n > 1 ? `-${k + 1}` : ""}`;
const DEFINITION = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365`;
const OLD = `${DEFINITION}/versions/1.1.0`;
const NEW = `${DEFINITION}/versions/1.2.0`;
const SUBNET = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-network/providers/Microsoft.Network/virtualNetworks/vnet-avd-weu/subnets/snet-avd-prod`;
const VM_SIZE = "Standard_D8s_v5";
const SEED = 20261202;
const PACED_TARGET = 1.25;

/** The scenario's durations (seconds), drawn uniformly between the bounds; docs/performance.md justifies each. */
export const DURATIONS = {
    /** Reimage: Azure accepts it until the VM runs again (OS disk re-created from the gallery image, Windows specialize, boot). */
    reimageSeconds: [420, 720],
    /** New instance: capacity raised until the VM runs (allocation, disk from the gallery image, specialize, boot). */
    provisionSeconds: [360, 720],
    /** From boot until the AVD agent is installed and registered and reports Available. */
    registerSeconds: [120, 300],
    /** From boot until the Application Health extension reports. */
    healthAfterSeconds: [60, 120],
    /** The AVD agent's heartbeat (WVDAgentHealthStatus "fires every ~30s"); a signed-out session disappears with the next. */
    heartbeatSeconds: 30,
    /** Azure deleting an instance. */
    deleteSeconds: 120,
} as const;

/** How users leave after the warning: share of users, sign-out delay range in minutes (undefined = never, before the timeout). */
export const SIGN_OUT_MIX: Array<{ share: number; minutes?: [number, number] }> = [
    { share: 0.45, minutes: [0.5, 10] },
    { share: 0.3, minutes: [10, 40] },
    { share: 0.15, minutes: [40, 110] },
    { share: 0.1 },
];
/** Sessions per host at maintenance time: share of hosts with 0, 1, 2, 3, 4 users. */
export const USERS_PER_HOST = [0.35, 0.3, 0.2, 0.1, 0.05];

interface Strategy {
    name: string;
    paced: boolean;
    surge: boolean;
    env: Record<string, string>;
}

/** Each strategy is the same tool with another AVD_ROLLOUT_STRATEGY and AVD_ROLLOUT_PACING. */
export const STRATEGIES: Strategy[] = [
    { name: "reimage, lockstep batches", paced: false, surge: false, env: { AVD_ROLLOUT_STRATEGY: "reimage", AVD_ROLLOUT_PACING: "batch" } },
    { name: "reimage, paced by host", paced: true, surge: false, env: { AVD_ROLLOUT_STRATEGY: "reimage", AVD_ROLLOUT_PACING: "host" } },
    { name: "surge, paced by host", paced: true, surge: true, env: { AVD_ROLLOUT_STRATEGY: "surge" } },
];

/** Scale sets a ring of `hosts` needs for the strategy: a surge needs a step of headroom under the 1,000-instance limit. */
export function scaleSetsFor(hosts: number, strategy: Strategy, maxBatchPercent: number): number {
    let n = 1;
    while (strategy.surge && surgeHeadroomProblem(Math.ceil(hosts / n), maxBatchPercent) !== undefined) n += 1;
    return n;
}

/** A fetch that holds the virtual clock until the answer has been read, so concurrent tools see one time. */
function heldFetch(clock: VirtualClock): typeof fetch {
    return (input, init) =>
        clock.hold(async () => {
            const res = await fetch(input, init);
            const body = await res.arrayBuffer();
            return new Response([101, 204, 205, 304].includes(res.status) ? null : body, { status: res.status, statusText: res.statusText, headers: res.headers });
        });
}

interface HostPlan {
    users: UserSessionSeed[];
    /** Drain time: the last user gone (ms). */
    d: number;
    /** Update time for reimage and for a new surge instance (ms). */
    uReimage: number;
    uSurge: number;
    reimageSeconds: number;
    provisionSeconds: number;
    registerSeconds: number;
    healthAfterSeconds: number;
}

function between(rng: () => number, [lo, hi]: readonly [number, number]): number {
    return lo + rng() * (hi - lo);
}

/** The seeded scenario for `hosts` hosts (the same for every strategy). */
export function scenario(hosts: number, drainTimeoutMs: number): HostPlan[] {
    const rng = seededRandom(SEED + hosts);
    const hb = DURATIONS.heartbeatSeconds * 1000;
    return Array.from({ length: hosts }, (_, i) => {
        let roll = rng();
        let count = 0;
        while (count < USERS_PER_HOST.length - 1 && roll >= USERS_PER_HOST[count]) roll -= USERS_PER_HOST[count++];
        const users: UserSessionSeed[] = [];
        let d = 0;
        for (let k = 0; k < count; k++) {
            let r = rng();
            const mix = SIGN_OUT_MIX.find((m) => (r -= m.share) < 0) ?? SIGN_OUT_MIX[SIGN_OUT_MIX.length - 1];
            const upn = `user${i}-${k}@contoso.com`;
            if (mix.minutes) {
                const s = Math.round(between(rng, mix.minutes) * 60);
                users.push({ userPrincipalName: upn, signsOutAfterDrainSeconds: s });
                d = Math.max(d, s * 1000 + hb);
            } else {
                // Never signs out: warned, then signed out at the drain timeout (forced logoff).
                users.push({ userPrincipalName: upn, endsAfterPolls: "never" });
                d = Math.max(d, drainTimeoutMs + hb);
            }
        }
        const reimageSeconds = Math.round(between(rng, DURATIONS.reimageSeconds));
        const provisionSeconds = Math.round(between(rng, DURATIONS.provisionSeconds));
        const registerSeconds = Math.round(between(rng, DURATIONS.registerSeconds));
        const healthAfterSeconds = Math.round(between(rng, DURATIONS.healthAfterSeconds));
        const ready = Math.max(registerSeconds, healthAfterSeconds) * 1000;
        return { users, d, uReimage: reimageSeconds * 1000 + ready, uSurge: provisionSeconds * 1000 + ready, reimageSeconds, provisionSeconds, registerSeconds, healthAfterSeconds };
    });
}

export function lowerBoundMs(work: number[], step: number): number {
    return Math.max(Math.max(...work), work.reduce((a, b) => a + b, 0) / step);
}

export interface StrategyRun {
    strategy: string;
    hosts: number;
    /** Scale sets (host pools) the ring is split over; their rollouts run at once. */
    scaleSets: number;
    /** Hosts in flight at most, over the whole ring (one step per scale set). */
    step: number;
    exitCode: number;
    makespanHours: number;
    lowerBoundHours: number;
    /** makespan / lower bound */
    ratio: number;
    lowestAcceptingPercent: number;
    callsPerHost: number;
    writesPerHost: number;
    throttled: number;
    retryAfterViolations: number;
    signedOut: RolloutResult["signedOutSessions"] | undefined;
    sessionsLost: number;
    realSeconds: number;
    error?: string;
}

async function runOnce(hosts: number, strategy: Strategy, baseEnv: Record<string, string>): Promise<StrategyRun> {
    const clock = new VirtualClock();
    const drainTimeoutMs = Number(baseEnv.AVD_DRAIN_TIMEOUT_MINUTES) * 60_000;
    const maxBatchPercent = Number(baseEnv.AVD_MAX_BATCH_PERCENT);
    const plan = scenario(hosts, drainTimeoutMs);
    const n = scaleSetsFor(hosts, strategy, maxBatchPercent);
    // Pool k gets hosts [k * per, (k + 1) * per) of the one seeded scenario.
    const per = Math.ceil(hosts / n);
    const pools = Array.from({ length: n }, (_, k) => ({ vmss: vmssId(k, n), hostPool: hostPoolId(k, n), plan: plan.slice(k * per, (k + 1) * per) }));
    const compute = new ComputeModule({ deleteSeconds: DURATIONS.deleteSeconds });
    const dv = new DesktopVirtualizationModule({ compute, heartbeatSeconds: DURATIONS.heartbeatSeconds, sampleAccepting: true });
    const network = new NetworkModule({ compute });
    const quota = new ComputeCapacityModule({ compute });
    const fake = new FakeAzure({ clock, acceptToken: TOKEN, throttle: ARM_THROTTLE });
    for (const m of [compute, dv, network, quota]) fake.use(m);
    await fake.start();
    const t0 = performance.now();
    try {
        pools.forEach((p, k) => {
            compute.addScaleSet({ id: p.vmss, capacity: p.plan.length, imageReferenceId: OLD, zones: ["1", "2", "3"], computerNamePrefix: n > 1 ? `avdprd${k + 1}` : "avdprd", upgradeMode: "Manual", vmSize: VM_SIZE, location: "westeurope" });
            dv.addHostPool({ id: p.hostPool, scaleSetId: p.vmss, hostNameSuffix: ".contoso.local" });
            quota.trackScaleSet(p.vmss, "westeurope", VM_SIZE);
            p.plan.forEach((h, i) => {
                compute.scenario(p.vmss, String(i), { upgradeSeconds: h.reimageSeconds, healthAfterSeconds: h.healthAfterSeconds });
                dv.scenario(p.hostPool, String(i), { registerSeconds: h.registerSeconds });
                if (h.users.length > 0) dv.addUserSessions(p.hostPool, String(i), h.users);
            });
            // New instances take the same host's draws, in order (the surge creates one per old host).
            compute.nextInstances(p.vmss, p.plan.map((h) => ({ provisionSeconds: h.provisionSeconds, healthAfterSeconds: h.healthAfterSeconds })));
            dv.nextSessionHosts(p.hostPool, p.plan.map((h) => ({ registerSeconds: h.registerSeconds })));
            compute.setModelImage(p.vmss, NEW);
        });
        // A /21 and quota to spare: the preflight passes; what it refuses is tested in tests/rolloutChecks.test.ts.
        network.addSubnet({ id: SUBNET, addressPrefix: "10.20.0.0/21", scaleSets: pools.map((p, k) => ({ id: p.vmss, networkInterfaceName: `nic-avd-prod-${k + 1}` })) });
        for (const usage of ["standardDSv5Family", "cores"]) quota.setQuota("westeurope", usage, { limit: hosts * 8 * 2 });

        const start = clock.now();
        const fetchAtOneTime = heldFetch(clock);
        const outcomes = await Promise.all(
            pools.map(async (p) => {
                const stdout: string[] = [];
                const stderr: string[] = [];
                const env = {
                    ...baseEnv,
                    ...strategy.env,
                    AVD_VMSS_ID: p.vmss,
                    AVD_HOST_POOL_ID: p.hostPool,
                    AZURE_RESOURCE_MANAGER_ENDPOINT: fake.url,
                    AVD_ARM_ACCESS_TOKEN: TOKEN,
                    AVD_CAPACITY: String(p.plan.length),
                    AVD_SUBNET_ID: SUBNET,
                    AVD_VM_SIZE: VM_SIZE,
                };
                const exitCode = await main(env, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { clock, ...(n > 1 ? { fetch: fetchAtOneTime } : {}) });
                const last = stdout[stdout.length - 1];
                return { exitCode, end: clock.now(), result: exitCode === 0 && last ? (JSON.parse(last) as RolloutResult) : undefined, error: stderr.find((l) => l.startsWith("Error:")) ?? stderr.slice(-1)[0] };
            }),
        );
        const makespan = Math.max(...outcomes.map((o) => o.end)) - start;
        const step = pools.reduce((sum, p) => sum + batchSize(p.plan.length, maxBatchPercent), 0);
        const work = plan.map((p) => p.d + (strategy.surge ? p.uSurge : p.uReimage));
        const bound = lowerBoundMs(work, step);
        // Each pool's lowest share of its capacity: the ring's lowest share is at least the smallest of them.
        const lowest = Math.min(
            ...pools.map((p) => {
                const accepting = dv.acceptingSamples.filter((x) => x.time >= start && x.hostPoolId === p.hostPool.toLowerCase()).map((x) => x.accepting);
                if (accepting.length === 0) throw new Error(`the fake sampled no accepting hosts in ${p.hostPool}: the capacity figure would be empty`);
                return (Math.min(p.plan.length, ...accepting) * 100) / p.plan.length;
            }),
        );
        const failed = outcomes.find((o) => o.exitCode !== 0);
        const signedOut = outcomes.every((o) => o.result)
            ? outcomes.reduce((sum, o) => ({ active: sum.active + (o.result?.signedOutSessions.active ?? 0), disconnected: sum.disconnected + (o.result?.signedOutSessions.disconnected ?? 0) }), { active: 0, disconnected: 0 })
            : undefined;
        return {
            strategy: strategy.name,
            hosts,
            scaleSets: n,
            step,
            exitCode: failed?.exitCode ?? 0,
            makespanHours: round(makespan / 3_600_000, 2),
            lowerBoundHours: round(bound / 3_600_000, 2),
            ratio: round(makespan / bound, 2),
            lowestAcceptingPercent: round(lowest, 1),
            callsPerHost: round(fake.requests.length / hosts, 1),
            writesPerHost: round(fake.requests.filter((r) => r.method !== "GET").length / hosts, 2),
            throttled: fake.requests.filter((r) => r.throttled).length,
            retryAfterViolations: fake.violations.length,
            signedOut,
            sessionsLost: dv.sessionsLostToReimage.length + dv.sessionsLostToDeletion.length,
            realSeconds: round((performance.now() - t0) / 1000, 1),
            ...(failed ? { error: failed.error } : {}),
        };
    } finally {
        await fake.stop();
    }
}

export interface RolloutStrategiesResult {
    seed: number;
    settings: Record<string, string>;
    durations: typeof DURATIONS;
    signOutMix: typeof SIGN_OUT_MIX;
    usersPerHost: typeof USERS_PER_HOST;
    runs: StrategyRun[];
    targets: Array<{ target: string; measured: string; met: boolean }>;
    failures: string[];
}

export async function benchRolloutStrategies(hostCounts: number[] = DEFAULT_STRATEGY_HOSTS): Promise<RolloutStrategiesResult> {
    // Prod's settings; forced logoff on, so users who never sign out are signed out after their
    // warning (prod stops at such a host instead, which has no makespan to measure).
    const settings = { ...productionRolloutEnvironment(), AVD_FORCE_LOGOFF: "true" };
    const runs: StrategyRun[] = [];
    for (const hosts of hostCounts) {
        for (const s of STRATEGIES) {
            log(`rollout strategies: ${hosts} hosts, ${s.name}`);
            runs.push(await runOnce(hosts, s, settings));
        }
    }
    const failures = runs.filter((r) => r.exitCode !== 0).map((r) => `${r.hosts} hosts, ${r.strategy}: exit ${r.exitCode}: ${r.error ?? ""}`);
    const paced = runs.filter((r) => STRATEGIES.find((s) => s.name === r.strategy)?.paced);
    const surge = runs.filter((r) => STRATEGIES.find((s) => s.name === r.strategy)?.surge);
    const worstPaced = Math.max(...paced.map((r) => r.ratio));
    const lowestSurge = surge.length === 0 ? 100 : Math.min(...surge.map((r) => r.lowestAcceptingPercent));
    const violations = runs.reduce((n, r) => n + r.retryAfterViolations, 0);
    return {
        seed: SEED,
        settings: Object.fromEntries(Object.entries(settings).filter(([k]) => !/^AVD_(VMSS|HOST_POOL|IMAGE_VERSION)_ID$/.test(k))),
        durations: DURATIONS,
        signOutMix: SIGN_OUT_MIX,
        usersPerHost: USERS_PER_HOST,
        runs,
        targets: [
            { target: `paced strategies: makespan / lower bound <= ${PACED_TARGET}`, measured: `worst ${worstPaced}`, met: failures.length === 0 && worstPaced <= PACED_TARGET },
            { target: "surge: lowest share of capacity accepting new sessions 100%", measured: surge.length === 0 ? "no surge run" : `${lowestSurge}%`, met: lowestSurge >= 100 },
            { target: "no request sooner than a Retry-After allowed", measured: `${violations}`, met: violations === 0 },
        ],
        failures,
    };
}

export function renderRolloutStrategies(r: RolloutStrategiesResult): string {
    const runs = table(
        `Rollout strategies (${r.settings.AVD_MAX_BATCH_PERCENT}% steps, pause ${r.settings.AVD_PAUSE_BETWEEN_BATCHES}, drain timeout ${r.settings.AVD_DRAIN_TIMEOUT_MINUTES} min, forced logoff after the warning; seed ${r.seed})`,
        ["hosts", "strategy", "scale sets", "step", "makespan h", "lower bound h", "ratio", "lowest accepting", "calls/host", "writes/host", "throttled", "Retry-After violations", "real s"],
        r.runs.map((x) => [x.hosts, x.strategy, x.scaleSets, x.step, x.makespanHours, x.lowerBoundHours, x.exitCode === 0 ? x.ratio : `exit ${x.exitCode}`, `${x.lowestAcceptingPercent}%`, x.callsPerHost, x.writesPerHost, x.throttled, x.retryAfterViolations, x.realSeconds]),
    );
    const targets = table("Rollout strategy targets", ["target", "measured", "verdict"], r.targets.map((t) => [t.target, t.measured, verdict(t.met)]));
    return [runs, targets, ...(r.failures.length ? [`failures:\n  ${r.failures.join("\n  ")}`] : [])].join("\n\n");
}
