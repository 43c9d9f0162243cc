// Time as the ARM client and the fake Azure see it. Production uses the system clock;
// tests and benchmarks share one VirtualClock between client and fake so hours of
// polling and Retry-After waits complete instantly and deterministically.

export interface Clock {
    /** Milliseconds since the epoch. */
    now(): number;
    sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

interface Sleeper {
    wakeAt: number;
    seq: number;
    resolve: () => void;
}

/**
 * A clock whose time only moves when someone sleeps. Pending sleepers wake in order of
 * their wake time, one per macrotask, and the clock jumps to each wake time, so
 * concurrent sleepers overlap instead of adding up. Work passed to `hold` (a request to the
 * fake Azure) stops time until it ends, so two tools on one clock see the same time: one
 * tool's sleep does not run out while the other waits for an answer.
 */
export class VirtualClock implements Clock {
    private current: number;
    private readonly sleepers: Sleeper[] = [];
    private seq = 0;
    private tickScheduled = false;
    private held = 0;

    constructor(start: number | Date = Date.UTC(2026, 0, 12, 8, 0, 0)) {
        this.current = typeof start === "number" ? start : start.getTime();
    }

    now(): number {
        return this.current;
    }

    /** Moves time forward without anyone sleeping (e.g. to expire a token). */
    advance(ms: number): void {
        this.current += Math.max(0, ms);
    }

    sleep(ms: number): Promise<void> {
        return new Promise((resolve) => {
            this.sleepers.push({ wakeAt: this.current + Math.max(0, ms), seq: this.seq++, resolve });
            this.schedule();
        });
    }

    /** Time stands still until `work` settles. */
    async hold<T>(work: () => Promise<T>): Promise<T> {
        this.held += 1;
        try {
            return await work();
        } finally {
            this.held -= 1;
            if (this.held === 0 && this.sleepers.length > 0) this.schedule();
        }
    }

    private schedule(): void {
        if (this.tickScheduled || this.held > 0) return;
        this.tickScheduled = true;
        setImmediate(() => {
            this.tickScheduled = false;
            if (this.held > 0) return;
            this.sleepers.sort((a, b) => a.wakeAt - b.wakeAt || a.seq - b.seq);
            const next = this.sleepers.shift();
            if (!next) return;
            this.current = Math.max(this.current, next.wakeAt);
            next.resolve();
            if (this.sleepers.length > 0) this.schedule();
        });
    }
}

/** `1h02m03s`, `4m05s`, `12s`: how long something has been running. */
export function formatDuration(ms: number): string {
    const total = Math.max(0, Math.round(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const pad = (n: number) => String(n).padStart(2, "0");
    if (h > 0) return `${h}h${pad(m)}m${pad(s)}s`;
    if (m > 0) return `${m}m${pad(s)}s`;
    return `${s}s`;
}
