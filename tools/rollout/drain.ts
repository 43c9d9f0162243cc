// Waiting for the users of hosts in drain mode, one host at a time, for the rollouts paced by
// host (surge, and reimage with pacing host): each host's drain timeout runs from its own drain,
// every Active user is warned once, and at the timeout a session is signed out only as the ring
// allows (forced logoff after the warning; Disconnected ones only when opted in). A host whose
// remaining users may not be signed out is "held": it keeps its slot and the others go on.
import { describeDuration } from "../../src/rollout/duration";
import { ArmError, type ArmClient } from "../azure/arm";
import { logOff, sendMessage, type Host, type UserSession } from "./azure";
import type { RolloutInputs } from "./env";
import { MIN_WARNING_MS } from "./rolloutRunner";

/** How long signed-out sessions may take to disappear before a host counts as held. */
export const LOGOFF_GRACE_MS = 15 * 60_000;

interface HostDrain {
    since: number;
    warned: Map<string, number>;
    loggedOff: Set<string>;
    /** Why it cannot finish in this run (users past the drain timeout who may not be signed out). */
    held?: UserSession[];
}

const key = (s: UserSession) => `${s.sessionHostName.toLowerCase()}/${s.id}`;

export class HostDrains {
    private readonly drains = new Map<string, HostDrain>();

    constructor(
        private readonly arm: ArmClient,
        private readonly inputs: RolloutInputs,
        private readonly log: (line: string) => void,
        /** Sessions signed out so far, counted here (pass the runner's own counters to share them). */
        readonly signedOut: { active: number; disconnected: number } = { active: 0, disconnected: 0 },
    ) {}

    /** The host's drain (and its timeout) starts now, unless it already has. */
    begin(instanceId: string, now: number): void {
        if (!this.drains.has(instanceId)) this.drains.set(instanceId, { since: now, warned: new Map(), loggedOff: new Set() });
    }

    end(instanceId: string): void {
        this.drains.delete(instanceId);
    }

    has(instanceId: string): boolean {
        return this.drains.has(instanceId);
    }

    /** The sessions that keep the host from finishing in this run; undefined while it may still finish. */
    held(instanceId: string): UserSession[] | undefined {
        return this.drains.get(instanceId)?.held;
    }

    /**
     * One look at the hosts' sessions (`sessions`: the host pool's, from one list call): warns
     * users not yet warned, signs out those whose time is up, and returns the hosts that have no
     * session left. A host seen here for the first time starts its drain timeout now.
     */
    async step(hosts: readonly Host[], sessions: readonly UserSession[], now: number): Promise<Host[]> {
        const t = this.inputs;
        const body = this.messageBody();
        const empty: Host[] = [];
        for (const h of hosts) {
            this.begin(h.instanceId, now);
            const r = this.drains.get(h.instanceId) as HostDrain;
            const on = h.sessionHostName ? sessions.filter((s) => s.sessionHostName.toLowerCase() === h.sessionHostName?.toLowerCase()) : [];
            if (on.length === 0) {
                // Whoever held it has gone after all (signed out past the timeout): it no longer holds its slot.
                r.held = undefined;
                empty.push(h);
                continue;
            }
            if (t.message && body) {
                let sent = 0;
                for (const s of on.filter((x) => x.state === "Active" && !r.warned.has(key(x)))) {
                    try {
                        if (await sendMessage(this.arm, t.hostPool, s, t.message.title, body)) {
                            sent += 1;
                            r.warned.set(key(s), this.arm.clock.now());
                        }
                    } catch (e) {
                        // Unknown whether the user saw it: not counted as warned; the next look sends it again if the session is still there.
                        if (!(e instanceof ArmError && e.outcomeUnknown)) throw e;
                    }
                }
                if (sent > 0) this.log(`sent "${t.message.title}" to ${sent} signed-in user(s) on ${h.name}`);
            }
            if (now < r.since + t.drainTimeoutMs) continue;
            const open = on.filter((s) => !r.loggedOff.has(key(s)) && s.state !== "LogOff");
            const dueActive = t.forceLogoff ? open.filter((s) => s.state === "Active" && now - (r.warned.get(key(s)) ?? Infinity) >= this.warningMs()) : [];
            const dueDisconnected = t.logOffDisconnectedSessions ? open.filter((s) => s.state === "Disconnected") : [];
            for (const s of [...dueActive, ...dueDisconnected]) {
                await logOff(this.arm, t.hostPool, s);
                r.loggedOff.add(key(s));
            }
            this.signedOut.active += dueActive.length;
            this.signedOut.disconnected += dueDisconnected.length;
            if (dueActive.length + dueDisconnected.length > 0) this.log(`drain timeout on ${h.name}: signed out ${dueActive.length} warned active and ${dueDisconnected.length} disconnected session(s)`);
            // What may still end in time: sessions signing out, and (with forced logoff) Active or connecting users whose warning is running.
            const remaining = open.filter((s) => !r.loggedOff.has(key(s)));
            const hopeless = remaining.filter((s) => !(t.forceLogoff && body && (s.state === "Active" || s.state === "Pending")));
            const late = now >= r.since + t.drainTimeoutMs + this.warningMs() + LOGOFF_GRACE_MS;
            if ((hopeless.length > 0 || late) && !r.held) {
                r.held = late ? on : hopeless;
                this.log(`${h.name} keeps ${r.held.length} user session(s) past the drain timeout of ${describeDuration(t.drainTimeoutMs)}: it holds one slot and stays in drain mode; the other hosts go on`);
            }
        }
        return empty;
    }

    /** The warning users get: the ring's message, plus when they will be signed out if forced logoff is on. */
    messageBody(): string | undefined {
        const m = this.inputs.message;
        if (!m) return undefined;
        if (!this.inputs.forceLogoff) return m.body;
        return `${m.body}\n\nSessions still open in ${Math.ceil(this.warningMs() / 60_000)} minutes will be signed out automatically.`;
    }

    /** How long a user has between the warning and a forced sign-out. */
    warningMs(): number {
        return Math.max(this.inputs.drainTimeoutMs, MIN_WARNING_MS);
    }

    signedOutText(): string {
        const { active, disconnected } = this.signedOut;
        if (active + disconnected === 0) return "nobody was signed out";
        return `signed out ${active} active user(s) after their warning and ${disconnected} disconnected session(s)`;
    }
}
