// The one ISO 8601 duration grammar of the project: the config (src/config), the deploy-time tools
// (src/rollout, tools/) and this policy pack all read durations through it, so a value the preview
// accepts is a value the tools and the policies accept. It lives here, without imports, because the
// pack is installed and run on its own from policy/ and cannot import from the program; the program
// imports it from here.
//
// Letters are read in either case (the config sends Azure the upper-case form). Azure writes
// these durations as `PT5M`, `PT1H30M`, `PT0S`, optionally with days (`P1DT2H`).
// Years and months are refused: their length depends on the calendar, and a pause between batches
// must mean the same thing on every run. Weeks are refused because Azure's TimeSpan parser does not
// read them.

const DURATION = /^P(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

export type DurationResult = { ms: number } | { problem: string };

/** Milliseconds in `text`, or the problem in words (for `"<text>" <problem>` messages). */
export function readIsoDuration(text: string): DurationResult {
    const value = text.trim().toUpperCase();
    if (/^P(?:\d+[YMW])/.test(value.split("T")[0] ?? "")) {
        return { problem: 'uses years or months (or weeks), whose length Azure does not read the same way; write it in days, hours, minutes or seconds (e.g. "PT15M", "P1DT2H")' };
    }
    const m = DURATION.exec(value);
    if (!m || value === "P") return { problem: 'is not an ISO 8601 duration such as "PT5M", "PT1H30M" or "PT0S"' };
    const [, d, h, min, s] = m;
    const n = (x: string | undefined) => (x === undefined ? 0 : Number(x));
    return { ms: Math.round((((n(d) * 24 + n(h)) * 60 + n(min)) * 60 + n(s)) * 1000) };
}

/** Seconds in `text`, or undefined when it is not a duration of that grammar. */
export function parseDurationSeconds(text: string): number | undefined {
    const r = readIsoDuration(text);
    return "ms" in r ? r.ms / 1000 : undefined;
}
