// Stopping the rollout on request (the AbortSignal tools/shared raises on SIGINT/SIGTERM) at its
// own checkpoints, and waiting in a way that notices it.
import type { ArmClient } from "../azure/arm";
import { StopRequested } from "../shared/stop";

export { StopRequested };

/** What raised the stop: the signal's name (SIGINT, SIGTERM) or "a stop request". */
export function stopReason(stop: AbortSignal | undefined): string {
    return typeof stop?.reason === "string" ? stop.reason : "a stop request";
}

/** Throws StopRequested when the signal has been raised. */
export function throwIfStopped(stop: AbortSignal | undefined): void {
    if (stop?.aborted) throw new StopRequested();
}

/** Waits on the client's clock; ends early with StopRequested when the signal is raised. */
export async function sleepUnlessStopped(arm: ArmClient, ms: number, stop: AbortSignal | undefined): Promise<void> {
    throwIfStopped(stop);
    if (!stop) return arm.sleep(ms);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<void>((resolve) => {
        onAbort = resolve;
        stop.addEventListener("abort", onAbort, { once: true });
    });
    try {
        await Promise.race([arm.sleep(ms), aborted]);
    } finally {
        if (onAbort) stop.removeEventListener("abort", onAbort);
    }
    throwIfStopped(stop);
}
