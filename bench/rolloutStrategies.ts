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
import { performance } from "node:perf_hooks";
import { batchSize } from "../src/rollout/planner";
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
const VMSS = `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-prod`;
const HOST_POOL = `${RG}/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-prod`;
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
    env: Record<string, string>;
}

/** The strategies this branch has; each is the same tool with another AVD_ROLLOUT_STRATEGY. */
export const STRATEGIES: Strategy[] = [
    { name: "reimage, lockstep batches", paced: false, env: { AVD_ROLLOUT_STRATEGY: "reimage" } },
    { name: "surge, paced by host", paced: true, env: { AVD_ROLLOUT_STRATEGY: "surge" } },
];

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
    const plan = scenario(hosts, drainTimeoutMs);
    const compute = new ComputeModule({ deleteSeconds: DURATIONS.deleteSeconds });
    const dv = new DesktopVirtualizationModule({ compute, heartbeatSeconds: DURATIONS.heartbeatSeconds, sampleAccepting: true });
    const network = new NetworkModule({ compute });
    const quota = new ComputeCapacityModule({ compute });
    const fake = new FakeAzure({ clock, acceptToken: TOKEN, throttle: ARM_THROTTLE });
    for (const m of [compute, dv, network, quota]) fake.use(m);
    await fake.start();
    const t0 = performance.now();
    try {
        compute.addScaleSet({ id: VMSS, capacity: hosts, imageReferenceId: OLD, zones: ["1", "2", "3"], computerNamePrefix: "avdprd", upgradeMode: "Manual", vmSize: VM_SIZE, location: "westeurope" });
        dv.addHostPool({ id: HOST_POOL, scaleSetId: VMSS, hostNameSuffix: ".contoso.local" });
        // A /21 and quota to spare: the preflight passes; what it refuses is tested in tests/rolloutChecks.test.ts.
        network.addSubnet({ id: SUBNET, addressPrefix: "10.20.0.0/21", scaleSets: [{ id: VMSS, networkInterfaceName: "nic-avd-prod" }] });
        quota.trackScaleSet(VMSS, "westeurope", VM_SIZE);
        for (const usage of ["standardDSv5Family", "cores"]) quota.setQuota("westeurope", usage, { limit: hosts * 8 * 2 });
        plan.forEach((p, i) => {
            compute.scenario(VMSS, String(i), { upgradeSeconds: p.reimageSeconds, healthAfterSeconds: p.healthAfterSeconds });
            dv.scenario(HOST_POOL, String(i), { registerSeconds: p.registerSeconds });
            if (p.users.length > 0) dv.addUserSessions(HOST_POOL, String(i), p.users);
        });
        // New instances take the same host's draws, in order (the surge creates one per old host).
        compute.nextInstances(VMSS, plan.map((p) => ({ provisionSeconds: p.provisionSeconds, healthAfterSeconds: p.healthAfterSeconds })));
        dv.nextSessionHosts(HOST_POOL, plan.map((p) => ({ registerSeconds: p.registerSeconds })));
        compute.setModelImage(VMSS, NEW);

        const stdout: string[] = [];
        const stderr: string[] = [];
        const start = clock.now();
        const env = { ...baseEnv, ...strategy.env, AZURE_RESOURCE_MANAGER_ENDPOINT: fake.url, AVD_ARM_ACCESS_TOKEN: TOKEN, AVD_CAPACITY: String(hosts), AVD_SUBNET_ID: SUBNET, AVD_VM_SIZE: VM_SIZE };
        const exitCode = await main(env, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { clock });
        const makespan = clock.now() - start;
        const step = batchSize(hosts, Number(baseEnv.AVD_MAX_BATCH_PERCENT));
        const work = plan.map((p) => p.d + (strategy.env.AVD_ROLLOUT_STRATEGY === "surge" ? p.uSurge : p.uReimage));
        const bound = lowerBoundMs(work, step);
        const accepting = dv.acceptingSamples.filter((s) => s.time >= start).map((s) => s.accepting);
        if (accepting.length === 0) throw new Error("the fake sampled no accepting hosts: the capacity figure would be empty");
        const last = stdout[stdout.length - 1];
        const result = exitCode === 0 && last ? (JSON.parse(last) as RolloutResult) : undefined;
        return {
            strategy: strategy.name,
            hosts,
            step,
            exitCode,
            makespanHours: round(makespan / 3_600_000, 2),
            lowerBoundHours: round(bound / 3_600_000, 2),
            ratio: round(makespan / bound, 2),
            lowestAcceptingPercent: round((Math.min(hosts, ...accepting) * 100) / hosts, 1),
            callsPerHost: round(fake.requests.length / hosts, 1),
            writesPerHost: round(fake.requests.filter((r) => r.method !== "GET").length / hosts, 2),
            throttled: fake.requests.filter((r) => r.throttled).length,
            retryAfterViolations: fake.violations.length,
            signedOut: result?.signedOutSessions,
            sessionsLost: dv.sessionsLostToReimage.length + dv.sessionsLostToDeletion.length,
            realSeconds: round((performance.now() - t0) / 1000, 1),
            ...(exitCode === 0 ? {} : { error: stderr.find((l) => l.startsWith("Error:")) ?? stderr.slice(-1)[0] }),
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
    const surge = runs.filter((r) => /^surge/.test(r.strategy));
    const worstPaced = Math.max(...paced.map((r) => r.ratio));
    const lowestSurge = Math.min(...surge.map((r) => r.lowestAcceptingPercent));
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
            { target: "surge: lowest share of capacity accepting new sessions 100%", measured: `${lowestSurge}%`, met: lowestSurge >= 100 },
            { target: "no request sooner than a Retry-After allowed", measured: `${violations}`, met: violations === 0 },
        ],
        failures,
    };
}

export function renderRolloutStrategies(r: RolloutStrategiesResult): string {
    const runs = table(
        `Rollout strategies (${r.settings.AVD_MAX_BATCH_PERCENT}% steps, pause ${r.settings.AVD_PAUSE_BETWEEN_BATCHES}, drain timeout ${r.settings.AVD_DRAIN_TIMEOUT_MINUTES} min, forced logoff after the warning; seed ${r.seed})`,
        ["hosts", "strategy", "step", "makespan h", "lower bound h", "ratio", "lowest accepting", "calls/host", "writes/host", "throttled", "Retry-After violations", "real s"],
        r.runs.map((x) => [x.hosts, x.strategy, x.step, x.makespanHours, x.lowerBoundHours, x.exitCode === 0 ? x.ratio : `exit ${x.exitCode}`, `${x.lowestAcceptingPercent}%`, x.callsPerHost, x.writesPerHost, x.throttled, x.retryAfterViolations, x.realSeconds]),
    );
    const targets = table("Rollout strategy targets", ["target", "measured", "verdict"], r.targets.map((t) => [t.target, t.measured, verdict(t.met)]));
    return [runs, targets, ...(r.failures.length ? [`failures:\n  ${r.failures.join("\n  ")}`] : [])].join("\n\n");
}
