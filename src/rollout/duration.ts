// ISO 8601 durations for the deploy-time tools: the project's one grammar (policy/lib/duration.ts,
// shared with the config and the policy pack) with an exception for the tools' error handling.
import { readIsoDuration } from "../../policy/lib/duration";

export { readIsoDuration };

export class DurationError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DurationError";
    }
}

/** Milliseconds in an ISO 8601 duration such as "PT10M"; throws DurationError when malformed. */
export function parseIsoDuration(text: string): number {
    const r = readIsoDuration(text);
    if ("problem" in r) throw new DurationError(`"${text}" ${r.problem}`);
    return r.ms;
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
