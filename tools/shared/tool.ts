// What the deploy-time tools (build trigger, rollout, health gate) share: how they print
// progress, the failure type a user can act on, how an Azure failure becomes one actionable
// "Error:" line (never a stack trace, never a token), the gallery version rule, how a tool
// stops on SIGINT/SIGTERM, and how a tool runs as a script.
import { ArmError, LroFailedError } from "../azure/arm";
import { formatDuration, type Clock } from "../azure/clock";
import { CredentialError, type TokenProvider } from "../azure/credentials";
import { StopRequested } from "./stop";

export { StopRequested };

export interface Io {
    stdout(line: string): void;
    stderr(line: string): void;
}

/** Injected by tests and benchmarks; a real run uses the system clock, fetch, credentials and process signals. */
export interface ToolOptions {
    clock?: Clock;
    tokenProvider?: TokenProvider;
    fetch?: typeof fetch;
    retry?: { maxAttempts?: number; initialBackoffMs?: number; maxBackoffMs?: number };
    /** Aborted when the tool must stop (SIGINT/SIGTERM); waits on the ARM client reject with StopRequested. */
    signal?: AbortSignal;
}

/** Gallery image versions are exactly MAJOR.MINOR.PATCH (no pre-release or build suffix). */
export const GALLERY_VERSION_PATTERN = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

/** One stderr line per event, prefixed with the time since the tool started. */
export class Progress {
    private readonly start: number;

    constructor(
        private readonly io: Io,
        private readonly clock: Clock,
    ) {
        this.start = clock.now();
    }

    elapsedMs(): number {
        return this.clock.now() - this.start;
    }

    line(text: string): void {
        this.io.stderr(`[${formatDuration(this.elapsedMs())}] ${text}`);
    }
}

/** A failure the user can act on: a headline, then details (tables, log tails, next steps). */
export class ToolFailure extends Error {
    constructor(
        message: string,
        readonly details: string[] = [],
    ) {
        super(message);
        this.name = "ToolFailure";
    }
}

export interface FailureHints {
    /** Names the tool in "the <tool> failed unexpectedly". */
    tool: string;
    /** What the signed-in identity needs, for a 403. */
    permissions: string;
    /** What to do when Azure kept refusing (429/5xx) after every retry. */
    retryLater: string;
}

/** Describes tool, credential, long-running-operation, ARM and unexpected failures as "Error:" lines. */
export function describeFailure(e: unknown, hints: FailureHints): string[] {
    if (e instanceof ToolFailure) return [`Error: ${e.message}`, ...e.details];
    return describeAzureFailure(e, hints);
}

/** Describes credential, long-running-operation, ARM and unexpected failures. */
export function describeAzureFailure(e: unknown, hints: FailureHints): string[] {
    if (e instanceof StopRequested) return [`Error: the ${hints.tool} ${e.message}.`];
    if (e instanceof CredentialError) return [`Error: ${e.message}.`];
    if (e instanceof LroFailedError) return [`Error: an Azure operation failed: ${e.message}.`];
    if (e instanceof ArmError) {
        const hint =
            e.status === 401
                ? ' Sign in again ("az login") or refresh AVD_ARM_ACCESS_TOKEN.'
                : e.status === 403
                  ? ` The signed-in identity lacks permission for this call; ${hints.permissions}.`
                  : e.status === 429 || e.status >= 500
                    ? ` Azure kept refusing the request after several attempts; ${hints.retryLater}.`
                    : "";
        return [`Error: an Azure call failed: ${e.message}.${hint}`];
    }
    return [`Error: the ${hints.tool} failed unexpectedly: ${e instanceof Error ? e.message : String(e)}.`];
}

/**
 * An AbortSignal raised by the first SIGINT or SIGTERM. The tool stops starting new work, its
 * waits reject with StopRequested, and it prints where it stopped and exits non-zero; a second
 * signal ends the process at once (Node's default).
 */
export function stopSignalFromProcess(proc: NodeJS.Process = process): AbortSignal {
    const controller = new AbortController();
    const onSignal = (name: NodeJS.Signals) => {
        proc.stderr.write(`Received ${name}: stopping after the current step (send it again to exit at once).\n`);
        proc.off("SIGINT", onSignal);
        proc.off("SIGTERM", onSignal);
        // The reason is the signal's name, so a tool can say what stopped it.
        controller.abort(name);
    };
    proc.once("SIGINT", onSignal);
    proc.once("SIGTERM", onSignal);
    return controller.signal;
}

const consoleIo: Io = {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
};

/** Runs a tool's `main` against the process environment, console and stop signals, and sets the exit code. */
export function runAsScript(main: (env: NodeJS.ProcessEnv, io: Io, options: ToolOptions) => Promise<number>): void {
    void main(process.env, consoleIo, { signal: stopSignalFromProcess() }).then((code) => {
        process.exitCode = code;
    });
}
