// ISO 8601 durations as Azure uses them for rolling upgrades (`PT#H#M#S`, optionally with days).

const DURATION = /^P(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

/** Seconds in `text`, or undefined when it is not an ISO 8601 duration of that form. */
export function parseDurationSeconds(text: string): number | undefined {
    const m = DURATION.exec(text.trim());
    if (!m || text.trim().toUpperCase() === "P") return undefined;
    const [, d, h, min, s] = m;
    return Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0);
}
