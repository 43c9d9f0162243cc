// What the lifecycle scripts (patch-tuesday, next-version, config-diff) share: output through an
// injectable Io so tests see exactly what a user sees, one message on a usage or config error
// (never a stack trace), and exit code 2 for both.
export interface ScriptIo {
    stdout(line: string): void;
    stderr(line: string): void;
}

export class UsageError extends Error {}

/** A `YYYY-MM-DD` argument as midnight UTC of that day. */
export function parseDayArg(flag: string, text: string, usage: string): Date {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    const date = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
    if (!m || !date || date.getUTCMonth() !== Number(m[2]) - 1 || date.getUTCDate() !== Number(m[3])) {
        throw new UsageError(`${flag} must be a date YYYY-MM-DD, got ${JSON.stringify(text)}\n${usage}`);
    }
    return date;
}

/**
 * Runs a script's main: its return value is the exit code. A usage error (node:util parseArgs
 * throws one with an ERR_PARSE_ARGS_* code), a ConfigError or any other failure prints one line
 * and exits 2.
 */
export function runMain(name: string, usage: string, main: (argv: string[], io: ScriptIo) => number | Promise<number>, argv: string[], io: ScriptIo): Promise<number> {
    return Promise.resolve()
        .then(() => main(argv, io))
        .catch((err: unknown) => {
            const code = (err as { code?: unknown } | null)?.code;
            const parseArgsError = typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
            io.stderr(`${name}: ${err instanceof Error ? err.message : String(err)}${parseArgsError ? `\n${usage}` : ""}`);
            return 2;
        });
}

export const processIo: ScriptIo = {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
};

/** The script's entry point: exits once stdout has drained. */
export function runScript(name: string, usage: string, main: (argv: string[], io: ScriptIo) => number | Promise<number>): void {
    void runMain(name, usage, main, process.argv.slice(2), processIo).then((code) => process.stdout.write("", () => process.exit(code)));
}
