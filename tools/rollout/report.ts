// Progress lines and failure tables for the rollout and the health gate: one stderr line
// per state change, prefixed with the elapsed time, and a per-host table when they stop.
import type { Io } from "../azure/cli";
import { formatDuration, type Clock } from "../azure/clock";

export type { Io } from "../azure/cli";

export class Progress {
    private readonly start: number;

    constructor(
        private readonly io: Io,
        private readonly clock: Clock,
    ) {
        this.start = clock.now();
    }

    line(text: string): void {
        this.io.stderr(`[${formatDuration(this.clock.now() - this.start)}] ${text}`);
    }
}

/** A plain-text table: columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string[] {
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const format = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd();
    return [format(headers), format(widths.map((w) => "-".repeat(w))), ...rows.map(format)];
}

/** "a, b and c" */
export function list(items: string[]): string {
    if (items.length <= 1) return items.join("");
    return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** A failure the user can act on: a headline, then details (tables, next steps). */
export class ToolFailure extends Error {
    constructor(
        message: string,
        readonly details: string[] = [],
    ) {
        super(message);
        this.name = "ToolFailure";
    }
}
