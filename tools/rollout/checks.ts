// The checks a real run plugs into the runners' two hooks (./hooks.ts): the surge preflight before
// the first change (./preflight.ts) and the maintenance window before every drain
// (src/rollout/window.ts). Built once per run from the validated inputs.
import { describeDuration } from "../../src/rollout/duration";
import { describeInstant, windowDecision, type RolloutWindow } from "../../src/rollout/window";
import type { ArmClient } from "../azure/arm";
import { ToolFailure } from "../shared/tool";
import type { RolloutInputs } from "./env";
import type { DrainPermit, FirstChange, RolloutHooks } from "./hooks";
import { preflight } from "./preflight";

/** A long way off in days and hours, else to the minute: "5 d 13 h", "2 h 10 min". */
function roughly(ms: number): string {
    const minutes = Math.ceil(ms / 60_000);
    if (minutes >= 1440) return `${Math.floor(minutes / 1440)} d ${Math.floor((minutes % 1440) / 60)} h`;
    return describeDuration(minutes * 60_000);
}

/** "Sat, Sun 22:00-05:00 Europe/Berlin" */
export function describeWindow(w: RolloutWindow): string {
    return `${w.days.join(", ")} ${w.start}-${w.end} ${w.timeZone}`;
}

/**
 * Inside the window: drain. Outside: wait (retryAt) when it opens within waitMinutes and before
 * the run's time box ends (`deadline`), else refuse without retryAt, which stops the run cleanly.
 */
export function windowPermit(w: RolloutWindow | undefined, now: number, deadline?: number): DrainPermit {
    if (!w) return { allowed: true };
    const d = windowDecision(w, now, deadline);
    if (d.kind === "drain") return { allowed: true };
    if (d.kind === "wait") return { allowed: false, reason: `outside the maintenance window ${describeWindow(w)}; it opens ${describeInstant(d.opensAt, w.timeZone)}`, retryAt: d.opensAt };
    const opens = `${describeInstant(d.opensAt, w.timeZone)}, in ${roughly(d.opensAt - now)}`;
    const why =
        w.waitMinutes === 0
            ? "sessionHosts.rollout.window.waitMinutes is 0"
            : deadline !== undefined && d.opensAt >= deadline && d.opensAt - now <= w.waitMinutes * 60_000
              ? "that is after this run's time box (sessionHosts.rollout.maxRunMinutes)"
              : `that is more than waitMinutes (${w.waitMinutes} min) away`;
    return { allowed: false, reason: `outside the maintenance window ${describeWindow(w)}; it next opens ${opens} (${why}): run \`pulumi up\` again then` };
}

export async function preflightCheck(arm: ArmClient, inputs: RolloutInputs, change: FirstChange, log: (line: string) => void): Promise<void> {
    const location = change.scaleSet.location;
    if (change.strategy === "surge" && change.surgeInstances > 0 && !location) {
        throw new ToolFailure(`preflight: the scale set ${change.scaleSet.name} reports no location, so the region's vCPU quota cannot be checked; nothing was changed.`);
    }
    const result = await preflight(arm, {
        strategy: change.strategy,
        surgeInstances: change.surgeInstances,
        capacity: inputs.strategy.kind === "surge" ? inputs.strategy.capacity : change.hosts.length,
        maxBatchInstancePercent: inputs.policy.maxBatchInstancePercent,
        location: location ?? "",
        subnet: inputs.subnet,
        vmSize: inputs.vmSize,
    });
    log(result.summary);
}

/** The hooks of a real run; `startedAt` is when the run began (its time box counts from there). */
export function rolloutChecks(arm: ArmClient, inputs: RolloutInputs, log: (line: string) => void, startedAt: number): RolloutHooks {
    const deadline = inputs.maxRunMs === undefined ? undefined : startedAt + inputs.maxRunMs;
    return {
        beforeFirstChange: (change) => preflightCheck(arm, inputs, change, log),
        mayStartDraining: (now) => windowPermit(inputs.window, now, deadline),
    };
}
