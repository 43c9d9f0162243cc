// The host pool's Scheduled Agent Updates (HostPool.agentUpdate) from the ring's rollout window, so
// AVD updates its agent, side-by-side stack and Geneva agent in the same hours the image rollout may
// use rather than in business hours. AVD's rules (learn.microsoft.com/azure/virtual-desktop/
// scheduled-agent-updates; HostPool 2024-04-03 `AgentUpdateProperties`): at most two maintenance
// windows a week, each `{dayOfWeek, hour}` and two hours long; `maintenanceWindowTimeZone` is a .NET
// TimeZoneInfo id, i.e. a Windows zone name ("W. Europe Standard Time"), used when
// `useSessionHostLocalTime` is false. The rollout window is IANA; windows-iana maps it (CLDR windowsZones).
import type { types } from "@pulumi/azure-native";
import { findWindows } from "windows-iana";
import { minutesOfDay, WEEKDAYS, type RolloutWindow, type Weekday } from "../rollout/window";

/** AVD's limit on agent-update windows per host pool and their length. */
export const AGENT_UPDATE_MAX_WINDOWS = 2;
export const AGENT_UPDATE_WINDOW_MINUTES = 120;

const DAY_NAMES: Record<Weekday, "Monday" | "Tuesday" | "Wednesday" | "Thursday" | "Friday" | "Saturday" | "Sunday"> = {
    Mon: "Monday",
    Tue: "Tuesday",
    Wed: "Wednesday",
    Thu: "Thursday",
    Fri: "Friday",
    Sat: "Saturday",
    Sun: "Sunday",
};

/** The Windows zone for an IANA zone, trying Intl's canonical name for aliases ("Europe/Kyiv"). */
export function windowsTimeZone(iana: string): string | undefined {
    const direct = findWindows(iana)[0];
    if (direct) return direct;
    const canonical = new Intl.DateTimeFormat("en-US", { timeZone: iana }).resolvedOptions().timeZone;
    return findWindows(canonical)[0];
}

/** Each window's agent-update slot: the first whole hour at or after `start`, when two hours fit before `end`. */
function slots(w: RolloutWindow): Array<{ day: Weekday; hour: number }> | string {
    const start = minutesOfDay(w.start, false) as number;
    const endRaw = minutesOfDay(w.end, true) as number;
    const end = endRaw > start ? endRaw : endRaw + 1440;
    const first = Math.ceil(start / 60) * 60;
    if (first + AGENT_UPDATE_WINDOW_MINUTES > end) {
        return `needs a window of at least two whole hours from a full hour (AVD's agent-update windows are two hours long and start on the hour); ${w.start}-${w.end} leaves ${Math.max(0, end - first)} min from ${String(Math.floor(first / 60) % 24).padStart(2, "0")}:00`;
    }
    return w.days.map((day) => {
        const shift = Math.floor(first / 1440);
        const index = (WEEKDAYS.indexOf(day) + shift) % 7;
        return { day: WEEKDAYS[index], hour: (first / 60) % 24 };
    });
}

/** Why `agentUpdate: true` cannot be honoured for this window, or undefined. */
export function agentUpdateProblem(w: RolloutWindow): string | undefined {
    if (w.days.length > AGENT_UPDATE_MAX_WINDOWS) {
        return `cannot be true with ${w.days.length} days: AVD schedules agent updates in at most ${AGENT_UPDATE_MAX_WINDOWS} windows a week; list at most two days, or set agentUpdate: false`;
    }
    const s = slots(w);
    if (typeof s === "string") return s;
    if (!windowsTimeZone(w.timeZone)) return `cannot be true: AVD needs a Windows time zone name and there is none for ${w.timeZone}`;
    return undefined;
}

/** HostPool `agentUpdate` for a window whose config passed agentUpdateProblem (parse time). */
export function agentUpdateFromWindow(w: RolloutWindow): types.input.desktopvirtualization.AgentUpdatePropertiesArgs {
    const s = slots(w);
    const zone = windowsTimeZone(w.timeZone);
    if (typeof s === "string" || !zone) throw new Error(`agentUpdateFromWindow: the window was not validated (${typeof s === "string" ? s : w.timeZone})`);
    return {
        type: "Scheduled",
        // The window is in one zone for the whole pool, not in each host's own clock.
        useSessionHostLocalTime: false,
        maintenanceWindowTimeZone: zone,
        maintenanceWindows: s.map((x) => ({ dayOfWeek: DAY_NAMES[x.day], hour: x.hour })),
    };
}
