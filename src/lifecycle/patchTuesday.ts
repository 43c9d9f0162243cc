// The monthly build date of seed 001 ("Schedule regular builds"): Patch Tuesday, the second
// Tuesday of the month, plus seven days, so Microsoft has a week to pull or fix a bad update.
// All dates are UTC calendar days (midnight UTC); a workflow's cron runs in UTC.

const DAY_MS = 24 * 60 * 60 * 1000;
const TUESDAY = 2;

/** Midnight UTC of the day `date` falls on. */
export function utcDay(date: Date): Date {
    return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

/** The second Tuesday of `month` (1-12) of `year`, midnight UTC. */
export function patchTuesday(year: number, month: number): Date {
    if (!Number.isInteger(year) || !Number.isInteger(month) || month < 1 || month > 12) {
        throw new RangeError(`patchTuesday needs a year and a month 1-12, got ${year}-${month}`);
    }
    const first = new Date(Date.UTC(year, month - 1, 1));
    const firstTuesday = 1 + ((TUESDAY - first.getUTCDay() + 7) % 7);
    return new Date(Date.UTC(year, month - 1, firstTuesday + 7));
}

/** Patch Tuesday + 7 days: the month's scheduled build (always the third Tuesday, the 15th to the 21st). */
export function scheduledBuildDate(year: number, month: number): Date {
    return new Date(patchTuesday(year, month).getTime() + 7 * DAY_MS);
}

/** Whether `date` (any time of that UTC day) is its month's scheduled build day. */
export function isScheduledBuildDay(date: Date): boolean {
    const day = utcDay(date);
    return day.getTime() === scheduledBuildDate(day.getUTCFullYear(), day.getUTCMonth() + 1).getTime();
}

/** The first scheduled build day on or after `date`'s UTC day. */
export function nextScheduledBuild(date: Date): Date {
    const day = utcDay(date);
    const thisMonth = scheduledBuildDate(day.getUTCFullYear(), day.getUTCMonth() + 1);
    if (thisMonth.getTime() >= day.getTime()) return thisMonth;
    const next = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth() + 1, 1));
    return scheduledBuildDate(next.getUTCFullYear(), next.getUTCMonth() + 1);
}

/** `YYYY-MM-DD` of a UTC day. */
export function isoDay(date: Date): string {
    return date.toISOString().slice(0, 10);
}
