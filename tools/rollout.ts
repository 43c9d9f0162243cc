// Drain-aware rollout for Manual-mode rings: moves the session hosts of a scale set onto its
// (already updated) model without throwing users out, by reimaging them in place batch by batch
// (AVD_ROLLOUT_STRATEGY=reimage, rollout/rolloutRunner.ts) or by adding new hosts before old
// ones leave (surge, rollout/surgeRunner.ts). Run by the ImageRollout
// component's command resource as `node_modules/.bin/tsx tools/rollout.ts`, or by hand
// (docs/rollout.md).
//
// Inputs (environment): AVD_VMSS_ID, AVD_HOST_POOL_ID, AVD_IMAGE_VERSION_ID,
// AVD_MAX_BATCH_PERCENT, AVD_MAX_UNHEALTHY_PERCENT, AVD_MAX_UNHEALTHY_UPGRADED_PERCENT,
// AVD_PAUSE_BETWEEN_BATCHES, AVD_PRIORITIZE_UNHEALTHY, AVD_DRAIN_TIMEOUT_MINUTES, optional
// AVD_DRAIN_MESSAGE_TITLE, AVD_DRAIN_MESSAGE_BODY, AVD_FORCE_LOGOFF, AVD_LOG_OFF_DISCONNECTED
// (false), AVD_MAX_RUN_MINUTES, AVD_POLL_SECONDS (30), AVD_HEALTH_TIMEOUT_MINUTES (45),
// AVD_ROLLOUT_STRATEGY (reimage) and, for surge, AVD_CAPACITY (the configured capacity); ARM
// endpoint and credentials as in tools/azure/credentials.ts.
// Progress goes to stderr; on success the last stdout line is one JSON object (RolloutResult).
// Exit 0 = every host on the target version, 1 = stopped, time-boxed, interrupted
// (SIGINT/SIGTERM) or failed (per-host report on stderr), 2 = invalid input.
import { ArmClient } from "./azure/arm";
import { systemClock } from "./azure/clock";
import { Progress, runAsScript, type Io, type ToolOptions } from "./shared/tool";
import { describeFailure } from "./rollout/failure";
import { InputError, readRolloutInputs } from "./rollout/env";
import { defaultOwner } from "./rollout/marker";
import { Rollout } from "./rollout/rolloutRunner";
import { Notifier, type NotifyOptions } from "./shared/notify";
import type { RolloutHooks } from "./rollout/hooks";
import { PacedReimageRollout } from "./rollout/pacedReimageRunner";
import { SurgeRollout } from "./rollout/surgeRunner";
import { rolloutChecks } from "./rollout/checks";

export type { RolloutResult } from "./rollout/rolloutRunner";

export interface MainOptions extends ToolOptions {
    /** Lock owner shown to a concurrent run (default user@host). */
    owner?: string;
    /** Webhook delivery settings (tests shorten the deadline). */
    notify?: NotifyOptions;
    /** Checks before the first change and before each drain (tools/rollout/hooks.ts). */
    hooks?: RolloutHooks;
}

/** Runs the rollout; returns the exit code. Never throws. */
export async function main(env: NodeJS.ProcessEnv, io: Io, options: MainOptions = {}): Promise<number> {
    let rollout: Rollout | SurgeRollout | undefined;
    const notifier = Notifier.fromEnvironment(env, "rollout", io, options.clock ?? systemClock, options.notify);
    try {
        const inputs = readRolloutInputs(env);
        await notifier.started();
        const heartbeat = new Progress(io, options.clock ?? systemClock);
        const arm = ArmClient.fromEnvironment(env, { clock: options.clock, tokenProvider: options.tokenProvider, fetch: options.fetch, retry: options.retry, defaultPollIntervalMs: inputs.pollMs,
            signal: options.signal,
            heartbeat: (line) => heartbeat.line(line),
            // No single Retry-After may outlast the longest phase the rollout itself would wait for.
            maxRetryWaitMs: Math.max(inputs.drainTimeoutMs, inputs.healthTimeoutMs),
        });
        const hooks = options.hooks ?? rolloutChecks(arm, inputs, (line) => heartbeat.line(line), arm.clock.now());
        const runnerOptions = { stop: options.signal, owner: options.owner ?? defaultOwner(env), hooks };
        rollout =
            inputs.strategy.kind === "surge"
                ? new SurgeRollout(arm, inputs, io, runnerOptions)
                : inputs.strategy.pacing === "host"
                  ? new PacedReimageRollout(arm, inputs, io, runnerOptions)
                  : new Rollout(arm, inputs, io, runnerOptions);
        const result = await rollout.execute();
        io.stdout(JSON.stringify(result));
        await notifier.finished(`${result.instancesUpgraded} host(s) moved to ${result.imageVersion} in ${result.batches} batch(es), ${result.instancesAlreadyCurrent} already current`);
        return 0;
    } catch (e) {
        const report = describeFailure(e, "rollout");
        for (const line of report) io.stderr(line);
        if (rollout?.started) for (const line of rollout.report()) io.stderr(line);
        await notifier.failed(report);
        return e instanceof InputError ? 2 : 1;
    }
}

if (require.main === module) runAsScript(main);
