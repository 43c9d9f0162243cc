// sessionHosts.rollout.window: when a Manual ring's rollout may take hosts out of service.
//   window: { days: [Sat, Sun], start: "22:00", end: "05:00", timeZone: Europe/Berlin, waitMinutes: 120, agentUpdate: true }
// A window opens on each listed day at `start` (local time in `timeZone`) and closes at `end` the
// same day, or the next day when `end` is not after `start` (across midnight); "24:00" ends at
// midnight. Local times that a DST change skips or repeats are resolved when the window is
// evaluated (src/rollout/window.ts). Parsed once here, with one error naming the stack file and key;
// the rollout tool gets the same object as AVD_ROLLOUT_WINDOW and checks it with the same rules.
import { minutesOfDay, WEEKDAYS, type RolloutWindow, type Weekday } from "../rollout/window";
import { agentUpdateProblem } from "../sessionHosts/agentUpdate";
import type { Reader } from "./reader";

export type { RolloutWindow };

/** waitMinutes: 0 (never wait: stop when outside) to 7 days, the longest a rollout run may last (maxRunMinutes). */
export const WINDOW_WAIT_MINUTES = { min: 0, max: 10080 } as const;

export function dayProblem(day: unknown): string | undefined {
    if (typeof day === "string" && (WEEKDAYS as readonly string[]).includes(day)) return undefined;
    const hint = typeof day === "string" ? WEEKDAYS.find((d) => day.toLowerCase().startsWith(d.toLowerCase())) : undefined;
    return `must be one of ${WEEKDAYS.join(", ")}, got ${JSON.stringify(day)}${hint ? ` (did you mean "${hint}"?)` : ""}`;
}

export function timeProblem(text: unknown, allowMidnightEnd: boolean): string | undefined {
    if (typeof text === "string" && minutesOfDay(text, allowMidnightEnd) !== undefined) return undefined;
    return `must be a 24-hour local time "HH:MM" (00:00 to ${allowMidnightEnd ? "24:00" : "23:59"}), got ${JSON.stringify(text)}`;
}

/** An IANA zone name Intl knows; offsets ("+01:00") and abbreviations without rules ("CEST") are refused. */
export function timeZoneProblem(zone: unknown): string | undefined {
    const hint = 'must be an IANA time zone such as "Europe/Berlin" or "UTC" (not a Windows name such as "W. Europe Standard Time", nor an offset)';
    if (typeof zone !== "string" || zone.trim() === "" || /^[+-]/.test(zone)) return `${hint}, got ${JSON.stringify(zone)}`;
    try {
        new Intl.DateTimeFormat("en-US", { timeZone: zone });
    } catch {
        return `${hint}, got ${JSON.stringify(zone)}`;
    }
    return undefined;
}

/** The checks beyond each field's own: start and end differ, days unique. Key and problem. */
export function windowProblem(w: RolloutWindow): { key: string; problem: string } | undefined {
    const seen = new Set<string>();
    for (const [i, d] of w.days.entries()) {
        if (seen.has(d)) return { key: `days[${i}]`, problem: `lists ${d} twice` };
        seen.add(d);
    }
    if (w.start === w.end) {
        return { key: "end", problem: `equals start (${w.start}): a window needs a length; for a whole day use start "00:00" and end "24:00"` };
    }
    if (w.agentUpdate) {
        const p = agentUpdateProblem(w);
        if (p) return { key: "agentUpdate", problem: p };
    }
    return undefined;
}

/** Reads the window object of sessionHosts.rollout (`r` is the reader of `window`). */
export function parseRolloutWindow(r: Reader): RolloutWindow {
    const days = r.list("days").map((d, i) => {
        const problem = dayProblem(d);
        if (problem) r.fail(`days[${i}]`, problem);
        return d as Weekday;
    });
    if (days.length === 0) r.fail("days", `must list at least one day (${WEEKDAYS.join(", ")})`);
    const text = (name: string, allowMidnightEnd: boolean): string => {
        const v = r.str(name);
        const problem = timeProblem(v, allowMidnightEnd);
        if (problem) r.fail(name, problem);
        return v;
    };
    const start = text("start", false);
    const end = text("end", true);
    const timeZone = r.str("timeZone");
    const zoneProblem = timeZoneProblem(timeZone);
    if (zoneProblem) r.fail("timeZone", zoneProblem);
    const w: RolloutWindow = { days, start, end, timeZone, waitMinutes: r.int("waitMinutes", WINDOW_WAIT_MINUTES, 0), agentUpdate: r.bool("agentUpdate", false) };
    r.done();
    const p = windowProblem(w);
    if (p) r.fail(p.key, p.problem);
    return w;
}

/** AVD_ROLLOUT_WINDOW for the rollout tool: the fields it evaluates (agentUpdate is the host pool's). */
export function rolloutWindowJson(w: RolloutWindow): string {
    return JSON.stringify({ days: w.days, start: w.start, end: w.end, timeZone: w.timeZone, waitMinutes: w.waitMinutes });
}

/** The tool's side: AVD_ROLLOUT_WINDOW's JSON through the same rules; a problem names the field. */
export function rolloutWindowFromJson(value: unknown): RolloutWindow | { problem: string } {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return { problem: "must be a JSON object {days, start, end, timeZone, waitMinutes}" };
    const o = value as Record<string, unknown>;
    if (!Array.isArray(o.days) || o.days.length === 0) return { problem: `days must be a non-empty list of ${WEEKDAYS.join(", ")}` };
    for (const d of o.days) {
        const p = dayProblem(d);
        if (p) return { problem: `days ${p}` };
    }
    for (const [k, midnight] of [["start", false], ["end", true]] as const) {
        const p = timeProblem(o[k], midnight);
        if (p) return { problem: `${k} ${p}` };
    }
    const zp = timeZoneProblem(o.timeZone);
    if (zp) return { problem: `timeZone ${zp}` };
    const wait = o.waitMinutes ?? 0;
    if (typeof wait !== "number" || !Number.isInteger(wait) || wait < WINDOW_WAIT_MINUTES.min || wait > WINDOW_WAIT_MINUTES.max) {
        return { problem: `waitMinutes must be a whole number from ${WINDOW_WAIT_MINUTES.min} to ${WINDOW_WAIT_MINUTES.max}, got ${JSON.stringify(wait)}` };
    }
    const w: RolloutWindow = { days: o.days as Weekday[], start: o.start as string, end: o.end as string, timeZone: o.timeZone as string, waitMinutes: wait, agentUpdate: o.agentUpdate === true };
    const p = windowProblem(w);
    return p ? { problem: `${p.key} ${p.problem}` } : w;
}
