// `npm run -s patch-tuesday -- [--check] [--date YYYY-MM-DD] [--months N]`
// Without --check: prints the next N (default 12) scheduled build days, Patch Tuesday + 7 days.
// --check: exit 0 when the day (today, UTC, or --date) is its month's scheduled build day, 1 when it
// is not (the scheduled-build workflow runs daily, since cron cannot say "second Tuesday + 7").
// Exit 2: bad arguments.
import { parseArgs } from "node:util";
import { isoDay, isScheduledBuildDay, nextScheduledBuild, patchTuesday } from "../src/lifecycle/patchTuesday";
import { parseDayArg, runScript, UsageError, type ScriptIo } from "./scriptIo";

const USAGE = "usage: npm run -s patch-tuesday -- [--check] [--date YYYY-MM-DD] [--months N]";

export function main(argv: string[], io: ScriptIo, now: Date = new Date()): number {
    const { values } = parseArgs({
        args: argv,
        options: { check: { type: "boolean", default: false }, date: { type: "string" }, months: { type: "string", default: "12" } },
        strict: true,
        allowPositionals: false,
    });
    const day = values.date === undefined ? now : parseDayArg("--date", values.date, USAGE);
    if (values.check) {
        if (isScheduledBuildDay(day)) {
            io.stdout(`${isoDay(day)} is Patch Tuesday + 7 days: the monthly build is due`);
            return 0;
        }
        const next = nextScheduledBuild(day);
        io.stdout(`${isoDay(day)} is not a scheduled build day; the next is ${isoDay(next)} (Patch Tuesday ${isoDay(patchTuesday(next.getUTCFullYear(), next.getUTCMonth() + 1))} + 7 days)`);
        return 1;
    }
    const months = Number(values.months);
    if (!Number.isInteger(months) || months < 1 || months > 120) throw new UsageError(`--months must be an integer 1-120, got ${JSON.stringify(values.months)}\n${USAGE}`);
    let next = nextScheduledBuild(day);
    for (let i = 0; i < months; i++) {
        const pt = patchTuesday(next.getUTCFullYear(), next.getUTCMonth() + 1);
        io.stdout(`${isoDay(next)}  (Patch Tuesday ${isoDay(pt)} + 7 days)`);
        next = nextScheduledBuild(new Date(Date.UTC(next.getUTCFullYear(), next.getUTCMonth() + 1, 1)));
    }
    return 0;
}

if (require.main === module) runScript("patch-tuesday", USAGE, (argv, io) => main(argv, io));
