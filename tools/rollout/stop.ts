// Stopping the rollout on request (SIGINT/SIGTERM, raised as an AbortSignal) and waiting in a
// way that notices it. Kept to these few functions so they can point at the shared
// tools/shared helpers once those exist.
import type { ArmClient } from "../azure/arm";

/** Thrown out of a wait or a checkpoint once a stop was requested. */
export class StopRequested extends Error {
    constructor(readonly reason: string) {
        super(`stopped by ${reason}`);
        this.name = "StopRequested";
    }
}

function reasonOf(stop: AbortSignal): string {
    return typeof stop.reason === "string" ? stop.reason : "a stop request";
}

/** Throws StopRequested when the signal has been raised. */
export function throwIfStopped(stop: AbortSignal | undefined): void {
    if (stop?.aborted) throw new StopRequested(reasonOf(stop));
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

/**
 * An AbortSignal raised by the first SIGINT or SIGTERM (its reason is the signal's name). A
 * second signal is left to Node's default, so an impatient user can still kill the process.
 * Only the script entry installs it; library code only reads the signal.
 */
export function stopOnSignals(): AbortSignal {
    const controller = new AbortController();
    const handler = (signal: NodeJS.Signals) => {
        process.off("SIGINT", handler);
        process.off("SIGTERM", handler);
        controller.abort(signal);
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
    return controller.signal;
}
