// `npm run next-version -- --stack test [--scheme minor|date] [--image <name>] [--date YYYY-MM-DD] [--dry-run]`
// Bumps the build ring's image version(s) in Pulumi.<stack>.yaml for the monthly build: minor
// (1.2.x -> 1.3.0, the default) or date (2026.12.0; 2026.12.1 when that month's version exists).
// Every image of the ring unless --image names one. Prints one line per bump on stdout,
// "<image> <from> -> <to>"; --dry-run prints without writing. Exit 0 = bumped, 2 = bad arguments or
// config (one message naming the file and key).
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { bumpStackFile, VERSION_SCHEMES, type VersionScheme } from "../src/lifecycle/nextVersion";
import { parseDayArg, runScript, UsageError, type ScriptIo } from "./scriptIo";

const USAGE = "usage: npm run next-version -- --stack <build ring> [--scheme minor|date] [--image <name>] [--date YYYY-MM-DD] [--dry-run]";

export function main(argv: string[], io: ScriptIo, env: { dir: string; now: Date } = { dir: process.cwd(), now: new Date() }): number {
    const { values } = parseArgs({
        args: argv,
        options: {
            stack: { type: "string", short: "s" },
            scheme: { type: "string", default: "minor" },
            image: { type: "string" },
            date: { type: "string" },
            "dry-run": { type: "boolean", default: false },
        },
        strict: true,
        allowPositionals: false,
    });
    if (!values.stack || !/^[A-Za-z0-9_.-]+$/.test(values.stack)) throw new UsageError(`--stack <name> is required\n${USAGE}`);
    const scheme = VERSION_SCHEMES.find((s) => s === values.scheme);
    if (!scheme) throw new UsageError(`--scheme must be minor or date, got ${JSON.stringify(values.scheme)}\n${USAGE}`);
    const today = values.date === undefined ? env.now : parseDayArg("--date", values.date, USAGE);
    const file = `Pulumi.${values.stack}.yaml`;
    const path = join(env.dir, file);
    if (!existsSync(path)) throw new UsageError(`${file}: no such file in ${env.dir}`);
    const { text, bumps } = bumpStackFile(readFileSync(path, "utf8"), file, { scheme: scheme as VersionScheme, today, image: values.image });
    if (!values["dry-run"]) writeFileSync(path, text);
    for (const b of bumps) io.stdout(`${b.image} ${b.from} -> ${b.to}`);
    io.stderr(`${file}: ${bumps.map((b) => `${b.key} ${b.from} -> ${b.to}`).join(", ")}${values["dry-run"] ? " (dry run, not written)" : ""}`);
    return 0;
}

if (require.main === module) runScript("next-version", USAGE, (argv, io) => main(argv, io));
