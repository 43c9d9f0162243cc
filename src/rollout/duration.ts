// ISO 8601 durations as Azure's rollingUpgradePolicy.pauseTimeBetweenBatches writes them
// ("PT5M", "PT1H30M", "PT0S"). Years and months are refused: their length depends on the
// calendar, and a pause between batches must mean the same thing on every run.

const PATTERN = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

export class DurationError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DurationError";
    }
}

/** Milliseconds in an ISO 8601 duration such as "PT10M"; throws DurationError when malformed. */
export function parseIsoDuration(text: string): number {
    const value = text.trim().toUpperCase();
    const datePart = value.split("T")[0];
    if (/^P.*\d[YM]/.test(datePart)) {
        throw new DurationError(`"${text}" uses years or months, whose length depends on the calendar; write it in weeks, days, hours, minutes or seconds (e.g. "PT15M")`);
    }
    const m = PATTERN.exec(value);
    if (!m || value === "P" || value.endsWith("T")) {
        throw new DurationError(`"${text}" is not an ISO 8601 duration such as "PT5M", "PT1H30M" or "PT0S"`);
    }
    const [, weeks, days, hours, minutes, seconds] = m;
    const n = (s: string | undefined) => (s === undefined ? 0 : Number(s));
    return Math.round(((((n(weeks) * 7 + n(days)) * 24 + n(hours)) * 60 + n(minutes)) * 60 + n(seconds)) * 1000);
}

/** "15 min", "1 h 30 min", "45 s": a duration for progress lines and messages. */
export function describeDuration(ms: number): string {
    const total = Math.round(ms / 1000);
    if (total === 0) return "0 s";
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    return [h ? `${h} h` : "", m ? `${m} min` : "", s ? `${s} s` : ""].filter(Boolean).join(" ");
}
