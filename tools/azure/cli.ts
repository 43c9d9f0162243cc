// What the deploy-time tools share: how they print, the hooks tests and benchmarks inject, how
// an Azure failure becomes one actionable "Error:" line (never a stack trace, never a token),
// and how a tool runs as a script.
import { ArmError, LroFailedError } from "./arm";
import type { Clock } from "./clock";
import { CredentialError, type TokenProvider } from "./credentials";

export interface Io {
    stdout(line: string): void;
    stderr(line: string): void;
}

/** Injected by tests and benchmarks; a real run uses the system clock, fetch and credentials. */
export interface ToolOptions {
    clock?: Clock;
    tokenProvider?: TokenProvider;
    fetch?: typeof fetch;
    retry?: { maxAttempts?: number; initialBackoffMs?: number; maxBackoffMs?: number };
}

export interface FailureHints {
    /** Names the tool in "the <tool> failed unexpectedly". */
    tool: string;
    /** What the signed-in identity needs, for a 403. */
    permissions: string;
    /** What to do when Azure kept refusing (429/5xx) after every retry. */
    retryLater: string;
}

/** Describes credential, long-running-operation, ARM and unexpected failures; undefined for others. */
export function describeAzureFailure(e: unknown, hints: FailureHints): string[] {
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

const consoleIo: Io = {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
};

/** Runs a tool's `main` against the process environment and console, and sets the exit code. */
export function runAsScript(main: (env: NodeJS.ProcessEnv, io: Io) => Promise<number>): void {
    void main(process.env, consoleIo).then((code) => {
        process.exitCode = code;
    });
}
