// Maintenance windows, evaluated: is an instant inside the ring's rollout window, when does it close,
// when does it next open. Pure (time in, answer out) over Intl's time-zone rules, so DST is the
// zone's own: a local time a spring-forward change skips is taken as the same clock reading after
// the jump (02:30 -> 03:30), one a fall-back change repeats as its first occurrence, as
// Temporal's "compatible" disambiguation does. So a window starting in the skipped hour is shorter
// that night, one wholly inside it moves past the jump, and one across a fall-back change is an hour
// longer. Config side: src/config/window.ts.

export const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface RolloutWindow {
    /** The local days the window opens on. */
    days: Weekday[];
    /** "HH:MM", 00:00-23:59. */
    start: string;
    /** "HH:MM", 00:00-24:00; not after `start` = the next day. */
    end: string;
    /** IANA time zone ("Europe/Berlin"). */
    timeZone: string;
    /** Outside the window, wait for it when it opens within this many minutes; else stop. */
    waitMinutes: number;
    /** Also schedule the host pool's AVD agent updates in this window (src/sessionHosts/agentUpdate.ts). */
    agentUpdate: boolean;
}

export interface WindowInterval {
    opensAt: number;
    closesAt: number;
}

export type WindowState = { inside: true; closesAt: number } | { inside: false; opensAt: number; closesAt: number };

export type WindowDecision =
    | { kind: "drain"; closesAt: number }
    | { kind: "wait"; opensAt: number; closesAt: number }
    | { kind: "stop"; opensAt: number; closesAt: number };

const DAY_MS = 86_400_000;

/** Minutes since local midnight of "HH:MM" (end may be "24:00"); undefined when malformed. */
export function minutesOfDay(text: string, allowMidnightEnd: boolean): number | undefined {
    if (allowMidnightEnd && text === "24:00") return 1440;
    const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
    return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
    let f = formatters.get(timeZone);
    if (!f) {
        f = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
        formatters.set(timeZone, f);
    }
    return f;
}

/** The local wall clock at `ms`, as if it were UTC (ms since the epoch of the local reading). */
function wallClock(ms: number, timeZone: string): number {
    const p = Object.fromEntries(formatter(timeZone).formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
    return Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
}

/** The zone's offset from UTC at `ms` (local minus UTC). */
export function offsetAt(ms: number, timeZone: string): number {
    const whole = Math.floor(ms / 1000) * 1000;
    return wallClock(whole, timeZone) - whole;
}

/** The instant a local wall-clock reading happens (see the file comment for skipped and repeated readings). */
export function instantOfWallClock(wall: number, timeZone: string): number {
    const before = offsetAt(wall - DAY_MS, timeZone);
    const after = offsetAt(wall + DAY_MS, timeZone);
    const candidates = [...new Set([wall - before, wall - after])].filter((t) => wallClock(t, timeZone) === wall).sort((a, b) => a - b);
    // No candidate: the reading falls in a spring-forward gap; the offset before the jump carries it past the gap.
    return candidates.length > 0 ? candidates[0] : wall - before;
}

/** The window's openings between `from` and `to` (overlapping or touching ones merged), in time order. */
export function windowIntervals(w: RolloutWindow, from: number, to: number): WindowInterval[] {
    const start = minutesOfDay(w.start, false);
    const end = minutesOfDay(w.end, true);
    if (start === undefined || end === undefined) throw new Error(`invalid window times ${w.start}-${w.end}`);
    const nextDay = end <= start;
    const firstWall = wallClock(from, w.timeZone);
    // Local calendar days from two before `from` (a window across midnight opened the day before) to one after `to`.
    const firstDay = Math.floor(firstWall / DAY_MS) - 2;
    const lastDay = Math.floor(wallClock(to, w.timeZone) / DAY_MS) + 1;
    const raw: WindowInterval[] = [];
    for (let day = firstDay; day <= lastDay; day++) {
        // 1970-01-01 was a Thursday: index 3 in WEEKDAYS (Mon = 0).
        const weekday = WEEKDAYS[(((day + 3) % 7) + 7) % 7];
        if (!w.days.includes(weekday)) continue;
        const opensAt = instantOfWallClock(day * DAY_MS + start * 60_000, w.timeZone);
        const closesAt = instantOfWallClock((day + (nextDay ? 1 : 0)) * DAY_MS + end * 60_000, w.timeZone);
        if (closesAt > opensAt && closesAt > from && opensAt < to) raw.push({ opensAt, closesAt });
    }
    raw.sort((a, b) => a.opensAt - b.opensAt);
    const merged: WindowInterval[] = [];
    for (const i of raw) {
        const last = merged[merged.length - 1];
        if (last && i.opensAt <= last.closesAt) last.closesAt = Math.max(last.closesAt, i.closesAt);
        else merged.push({ ...i });
    }
    return merged;
}

/** Inside (and until when), or when the window next opens. */
export function windowState(w: RolloutWindow, now: number): WindowState {
    // Every listed day recurs within a week; two weeks of openings always hold the current and the next.
    const intervals = windowIntervals(w, now - DAY_MS, now + 15 * DAY_MS);
    const current = intervals.find((i) => i.opensAt <= now && now < i.closesAt);
    if (current) return { inside: true, closesAt: current.closesAt };
    const next = intervals.find((i) => i.opensAt > now);
    if (!next) throw new Error(`the window ${w.days.join(",")} ${w.start}-${w.end} ${w.timeZone} never opens`);
    return { inside: false, opensAt: next.opensAt, closesAt: next.closesAt };
}

/**
 * May a host start draining now? Inside: yes. Outside: wait when the window opens within
 * waitMinutes and before `deadline` (the run's time box), else stop and say when it opens.
 */
export function windowDecision(w: RolloutWindow, now: number, deadline?: number): WindowDecision {
    const s = windowState(w, now);
    if (s.inside) return { kind: "drain", closesAt: s.closesAt };
    const waitable = s.opensAt - now <= w.waitMinutes * 60_000 && (deadline === undefined || s.opensAt < deadline);
    return { kind: waitable ? "wait" : "stop", opensAt: s.opensAt, closesAt: s.closesAt };
}

/** "Sat 2026-12-05 22:00 Europe/Berlin (21:00 UTC)" */
export function describeInstant(ms: number, timeZone: string): string {
    const wall = new Date(wallClock(ms, timeZone));
    const utc = new Date(ms);
    const day = WEEKDAYS[(wall.getUTCDay() + 6) % 7];
    const hm = (d: Date) => `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
    return `${day} ${wall.toISOString().slice(0, 10)} ${hm(wall)} ${timeZone}${timeZone === "UTC" ? "" : ` (${hm(utc)} UTC)`}`;
}
