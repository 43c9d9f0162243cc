// What the rollout keeps in Azure about itself, so a re-run on any machine sees it: two tags on
// the scale set, written through Microsoft.Resources/tags (Merge/Delete touch only these names,
// not the model, and start no Compute operation).
//   avd-image-rings-rollout-lock     who is rolling this scale set out, until when (a lease the
//                                    run renews; a crashed run's lease simply runs out)
//   avd-image-rings-rollout-drained  instance ids the rollout put in drain mode and has not yet
//                                    returned to service; a host in drain mode that is not listed
//                                    was drained by someone else and is never undrained
// Tag values hold at most 256 characters, so instance ids are written as ranges ("3-7,12") or a
// bitmap, whichever is shorter: a 200-host batch of a 1000-host scale set fits.
import { hostname, userInfo } from "node:os";
import { randomUUID } from "node:crypto";
import { ROLLOUT_DRAINED_TAG, ROLLOUT_LOCK_TAG } from "../../src/rollout/markerTags";
import type { ArmClient } from "../azure/arm";
import type { ResourceId } from "../azure/ids";
import { getTags, updateTags } from "./azure";
import { ToolFailure } from "../shared/tool";

export const LOCK_TAG = ROLLOUT_LOCK_TAG;
export const DRAINED_TAG = ROLLOUT_DRAINED_TAG;
export const TAG_VALUE_MAX = 256;
/** How long a lock holds without renewal; a crashed run's lock is gone after this. */
export const LOCK_LEASE_MS = 15 * 60_000;
/** Renew when less than this is left. */
const LOCK_RENEW_MS = 10 * 60_000;
/** Between writing the lock and reading it back (at most): two runs that wrote at once both see the last writer. */
export const LOCK_SETTLE_MS = 10_000;

export interface LockHolder {
    run: string;
    owner: string;
    version: string;
    until: number;
}

/** `run=<id>;owner=<user@host>;version=<X.Y.Z>;until=<ISO time>` */
export function formatLock(l: LockHolder): string {
    return `run=${l.run};owner=${l.owner};version=${l.version};until=${new Date(l.until).toISOString()}`;
}

export function parseLock(value: string | undefined): LockHolder | undefined {
    if (!value) return undefined;
    const fields = new Map(value.split(";").map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)] as [string, string]));
    const until = Date.parse(fields.get("until") ?? "");
    const run = fields.get("run");
    if (!run || Number.isNaN(until)) return undefined;
    return { run, owner: fields.get("owner") ?? "unknown", version: fields.get("version") ?? "?", until };
}

/**
 * Instance ids as ranges people can read ("3-7,12"), or, when those would not fit a tag value
 * (a zone-balanced batch is rarely contiguous), "b<first>.<base64url bitmap from first>".
 */
export function formatInstanceIds(ids: Iterable<string>): string {
    const unique = [...new Set(ids)];
    const numbers = unique.filter((x) => /^\d+$/.test(x)).map(Number).sort((a, b) => a - b);
    const others = unique.filter((x) => !/^\d+$/.test(x)).sort();
    const parts: string[] = [];
    for (let i = 0; i < numbers.length; ) {
        let j = i;
        while (j + 1 < numbers.length && numbers[j + 1] === numbers[j] + 1) j++;
        parts.push(j === i ? String(numbers[i]) : `${numbers[i]}-${numbers[j]}`);
        i = j + 1;
    }
    const ranges = [...parts, ...others].join(",");
    if (ranges.length <= TAG_VALUE_MAX || others.length > 0) return ranges;
    const first = numbers[0];
    const bits = Buffer.alloc(Math.ceil((numbers[numbers.length - 1] - first + 1) / 8));
    for (const n of numbers) bits[(n - first) >> 3] |= 1 << ((n - first) & 7);
    const bitmap = `b${first}.${bits.toString("base64url")}`;
    return bitmap.length < ranges.length ? bitmap : ranges;
}

export function parseInstanceIds(value: string | undefined): Set<string> {
    const out = new Set<string>();
    const bitmap = /^b(\d+)\.([A-Za-z0-9_-]*)$/.exec(value ?? "");
    if (bitmap) {
        const bits = Buffer.from(bitmap[2], "base64url");
        for (let i = 0; i < bits.length * 8; i++) if (bits[i >> 3] & (1 << (i & 7))) out.add(String(Number(bitmap[1]) + i));
        return out;
    }
    for (const part of (value ?? "").split(",").map((p) => p.trim()).filter(Boolean)) {
        const m = /^(\d+)-(\d+)$/.exec(part);
        if (m && Number(m[2]) - Number(m[1]) <= 100_000) for (let n = Number(m[1]); n <= Number(m[2]); n++) out.add(String(n));
        else out.add(part);
    }
    return out;
}

function tagValue(tags: Record<string, string>, name: string): string | undefined {
    // Azure compares tag names case-insensitively.
    return Object.entries(tags).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

/** Who runs this process, for the lock: user@host, in characters a tag value may hold. */
export function defaultOwner(env: NodeJS.ProcessEnv): string {
    const ci = env.GITHUB_RUN_ID ? ` (GitHub run ${env.GITHUB_RUN_ID})` : "";
    let user = "unknown";
    try {
        user = userInfo().username;
    } catch {
        // No passwd entry (some containers): the host name still tells the runs apart.
    }
    return `${user}@${hostname()}${ci}`.replace(/[;=]/g, "_").slice(0, 120);
}

export class RolloutMarker {
    readonly run = randomUUID();
    private held?: LockHolder;
    private drained = new Set<string>();

    constructor(
        private readonly arm: ArmClient,
        private readonly vmss: ResourceId,
        private readonly owner: string,
        private readonly version: string,
        /** Waits the settle time (the caller's stoppable sleep, bounded by its poll interval). */
        private readonly settle: () => Promise<void>,
    ) {}

    /** Instance ids the rollout drained and has not returned to service (as of the last read or write). */
    get drainedIds(): ReadonlySet<string> {
        return this.drained;
    }

    /**
     * Takes the lock, or fails naming who holds it. Write, wait, read back: of two runs that
     * wrote at the same time only the last writer goes on.
     */
    async acquire(): Promise<void> {
        const now = this.arm.clock.now();
        const tags = await getTags(this.arm, this.vmss);
        this.refuseIfHeld(parseLock(tagValue(tags, LOCK_TAG)), now);
        await this.writeLock(now);
        await this.settle();
        const after = await getTags(this.arm, this.vmss);
        const holder = parseLock(tagValue(after, LOCK_TAG));
        if (holder?.run !== this.run) {
            this.held = undefined;
            this.refuseIfHeld(holder, this.arm.clock.now());
            throw new ToolFailure(`another rollout changed the lock tag ${LOCK_TAG} on the scale set while this one took it; nothing was changed. Run \`pulumi up\` again.`);
        }
        this.drained = parseInstanceIds(tagValue(after, DRAINED_TAG));
    }

    /** Renews the lease when it runs low; fails when another run has taken the lock meanwhile. */
    async renew(): Promise<void> {
        if (!this.held) return;
        const now = this.arm.clock.now();
        if (this.held.until - now > LOCK_RENEW_MS) return;
        const tags = await getTags(this.arm, this.vmss);
        const holder = parseLock(tagValue(tags, LOCK_TAG));
        if (holder && holder.run !== this.run) {
            this.held = undefined;
            throw new ToolFailure(`this rollout's lock on the scale set ran out and ${describeHolder(holder)} took it over; this run stops so that the two do not both act.`);
        }
        await this.writeLock(now);
    }

    /**
     * Before the rollout acts (drains a batch, starts an upgrade): the lock must still be this
     * run's. A lock tag that vanished (a scale-set PUT replaces tags) is written again.
     */
    async confirm(): Promise<void> {
        if (!this.held) return;
        const holder = parseLock(tagValue(await getTags(this.arm, this.vmss), LOCK_TAG));
        if (holder && holder.run !== this.run) {
            this.held = undefined;
            throw new ToolFailure(`another rollout took over this scale set's lock (${describeHolder(holder)}); this run stops so that the two do not both act.`);
        }
        if (!holder) await this.writeLock(this.arm.clock.now());
    }

    /** Lets the next run start at once; deletes the lock only if it is still this run's. */
    async release(): Promise<void> {
        const held = this.held;
        if (!held) return;
        this.held = undefined;
        await updateTags(this.arm, this.vmss, "Delete", { [LOCK_TAG]: formatLock(held) });
    }

    /** Whether adding these instances keeps the marker within a tag value's 256 characters. */
    fits(ids: readonly string[]): boolean {
        return formatInstanceIds([...this.drained, ...ids]).length <= TAG_VALUE_MAX;
    }

    /** Records hosts as drained by the rollout; written before they are drained. */
    async add(ids: readonly string[]): Promise<void> {
        if (ids.every((id) => this.drained.has(id))) return;
        await this.writeDrained(new Set([...this.drained, ...ids]));
    }

    /** Forgets hosts that are back in service (or gone); written after they were undrained. */
    async remove(ids: readonly string[]): Promise<void> {
        if (!ids.some((id) => this.drained.has(id))) return;
        await this.writeDrained(new Set([...this.drained].filter((id) => !ids.includes(id))));
    }

    private async writeDrained(next: Set<string>): Promise<void> {
        const value = formatInstanceIds(next);
        if (value) await updateTags(this.arm, this.vmss, "Merge", { [DRAINED_TAG]: value });
        else {
            const current = formatInstanceIds(this.drained);
            if (current) await updateTags(this.arm, this.vmss, "Delete", { [DRAINED_TAG]: current });
        }
        this.drained = next;
    }

    private async writeLock(now: number): Promise<void> {
        const lock: LockHolder = { run: this.run, owner: this.owner, version: this.version, until: now + LOCK_LEASE_MS };
        await updateTags(this.arm, this.vmss, "Merge", { [LOCK_TAG]: formatLock(lock) });
        this.held = lock;
    }

    private refuseIfHeld(holder: LockHolder | undefined, now: number): void {
        if (!holder || holder.run === this.run || holder.until <= now) return;
        throw new ToolFailure(
            `another rollout of this scale set is running: ${describeHolder(holder)}; nothing was changed. Two rollouts never act on one scale set at once.`,
            [
                `Wait for it to finish, then run \`pulumi up\` again. If that run was killed, its lock runs out by ${new Date(holder.until).toISOString()} (it is renewed every few minutes while the run lives).`,
                `Only if you are sure no rollout runs: az tag update --resource-id ${this.vmss.id} --operation Delete --tags ${LOCK_TAG}`,
            ],
        );
    }
}

export function describeHolder(h: LockHolder): string {
    return `held by ${h.owner} (run ${h.run}, rolling out ${h.version}) until ${new Date(h.until).toISOString()} unless renewed`;
}
