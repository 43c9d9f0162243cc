import { strict as assert } from "node:assert";
import { isoDay, isScheduledBuildDay, nextScheduledBuild, patchTuesday, scheduledBuildDate } from "../src/lifecycle/patchTuesday";
import { main } from "../scripts/patchTuesday";
import { runMain } from "../scripts/scriptIo";

/**
 * The expected dates, computed a different way from the implementation: walk the month day by
 * day, count Tuesdays, take the second, then add seven calendar days with setUTCDate.
 */
function expected(year: number, month: number): { patchTuesday: string; build: string } {
    let tuesdays = 0;
    for (let day = 1; day <= 31; day++) {
        const d = new Date(Date.UTC(year, month - 1, day));
        if (d.getUTCMonth() !== month - 1) break;
        if (d.getUTCDay() === 2 && ++tuesdays === 2) {
            const build = new Date(d);
            build.setUTCDate(build.getUTCDate() + 7);
            return { patchTuesday: isoDay(d), build: isoDay(build) };
        }
    }
    throw new Error(`no second Tuesday in ${year}-${month}`);
}

/** The 24 months from 2026-12 on. */
const MONTHS = Array.from({ length: 24 }, (_, i) => ({ year: 2026 + Math.floor((11 + i) / 12), month: ((11 + i) % 12) + 1 }));

function run(argv: string[], now = new Date("2026-12-02T00:40:00Z")): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    return runMain("patch-tuesday", "usage", (a, io) => main(a, io, now), argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) }).then((code) => ({ code, out, err }));
}

describe("Patch Tuesday schedule (src/lifecycle/patchTuesday.ts)", () => {
    it("covers the 24 months from December 2026 to November 2028", () => {
        assert.deepEqual(MONTHS[0], { year: 2026, month: 12 });
        assert.deepEqual(MONTHS[23], { year: 2028, month: 11 });
    });

    for (const { year, month } of MONTHS) {
        const want = expected(year, month);
        it(`${year}-${String(month).padStart(2, "0")}: Patch Tuesday ${want.patchTuesday}, build ${want.build}`, () => {
            assert.equal(isoDay(patchTuesday(year, month)), want.patchTuesday);
            assert.equal(isoDay(scheduledBuildDate(year, month)), want.build);
            assert.equal(patchTuesday(year, month).getUTCDay(), 2);
            assert.ok(isScheduledBuildDay(scheduledBuildDate(year, month)));
        });
    }

    it("matches fixed calendar dates (November 2026 to January 2027)", () => {
        assert.equal(isoDay(patchTuesday(2026, 12)), "2026-12-08");
        assert.equal(isoDay(scheduledBuildDate(2026, 12)), "2026-12-15");
        assert.equal(isoDay(patchTuesday(2027, 1)), "2027-01-12");
        assert.equal(isoDay(patchTuesday(2026, 11)), "2026-11-10");
    });

    it("edge months: the 1st a Tuesday (earliest, 8th + 7), the 1st a Wednesday (latest, 14th + 7), February of a leap year", () => {
        // June 2027 and February 2028 start on a Tuesday; September 2027 and March 2028 on a Wednesday.
        assert.equal(new Date(Date.UTC(2027, 5, 1)).getUTCDay(), 2);
        assert.equal(isoDay(patchTuesday(2027, 6)), "2027-06-08");
        assert.equal(isoDay(scheduledBuildDate(2027, 6)), "2027-06-15");
        assert.equal(new Date(Date.UTC(2027, 8, 1)).getUTCDay(), 3);
        assert.equal(isoDay(patchTuesday(2027, 9)), "2027-09-14");
        assert.equal(isoDay(scheduledBuildDate(2027, 9)), "2027-09-21");
        assert.equal(isoDay(patchTuesday(2028, 2)), "2028-02-08");
        assert.equal(isoDay(scheduledBuildDate(2028, 2)), "2028-02-15");
    });

    it("the build day is always the third Tuesday, the 15th to the 21st, in the same month", () => {
        for (let year = 2026; year <= 2040; year++) {
            for (let month = 1; month <= 12; month++) {
                const build = scheduledBuildDate(year, month);
                assert.equal(build.getUTCMonth(), month - 1);
                assert.ok(build.getUTCDate() >= 15 && build.getUTCDate() <= 21, `${isoDay(build)}`);
                assert.equal(isoDay(build), expected(year, month).build);
            }
        }
    });

    it("judges a day by its UTC date, whatever the time of day", () => {
        assert.ok(isScheduledBuildDay(new Date("2026-12-15T00:00:00Z")));
        assert.ok(isScheduledBuildDay(new Date("2026-12-15T23:59:59Z")));
        assert.ok(!isScheduledBuildDay(new Date("2026-12-14T23:59:59Z")));
        assert.ok(!isScheduledBuildDay(new Date("2026-12-08T12:00:00Z")), "Patch Tuesday itself is not the build day");
    });

    it("next build: this month's when it is still ahead or today, otherwise next month's (across the year)", () => {
        assert.equal(isoDay(nextScheduledBuild(new Date("2026-12-02T10:00:00Z"))), "2026-12-15");
        assert.equal(isoDay(nextScheduledBuild(new Date("2026-12-15T18:00:00Z"))), "2026-12-15");
        assert.equal(isoDay(nextScheduledBuild(new Date("2026-12-16T00:00:00Z"))), expected(2027, 1).build);
    });

    it("refuses a month outside 1-12", () => {
        assert.throws(() => patchTuesday(2026, 13), RangeError);
        assert.throws(() => patchTuesday(2026, 0), RangeError);
    });
});

describe("npm run patch-tuesday", () => {
    it("--check exits 0 on the build day and 1 on any other day, naming the next one", async () => {
        const due = await run(["--check", "--date", "2026-12-15"]);
        assert.equal(due.code, 0);
        assert.match(due.out.join("\n"), /2026-12-15 is Patch Tuesday \+ 7 days/);
        const notDue = await run(["--check"]);
        assert.equal(notDue.code, 1);
        assert.match(notDue.out.join("\n"), /2026-12-02 is not a scheduled build day; the next is 2026-12-15 \(Patch Tuesday 2026-12-08 \+ 7 days\)/);
    });

    it("lists the next N build days", async () => {
        const { code, out } = await run(["--months", "3"]);
        assert.equal(code, 0);
        assert.deepEqual(out.map((l) => l.slice(0, 10)), ["2026-12-15", expected(2027, 1).build, expected(2027, 2).build]);
    });

    it("bad arguments exit 2 with one message", async () => {
        for (const argv of [["--date", "2026-02-30"], ["--months", "0"], ["--bogus"]]) {
            const { code, err } = await run(argv);
            assert.equal(code, 2, argv.join(" "));
            assert.equal(err.length, 1);
            assert.match(err[0], /^patch-tuesday: /);
        }
    });
});
