// The rules both paced rollouts share (src/rollout/pacing.ts): how many hosts may be in flight
// and in which order hosts leave service; and the virtual clock that lets two rollouts run at
// once in one process (the 1,000-host benchmark's two pools).
import * as assert from "node:assert/strict";
import type { HostState } from "../src/rollout/hosts";
import { pacedOrder, SlotWindow } from "../src/rollout/pacing";
import { checkThresholds, initialProgress, type RolloutPolicy } from "../src/rollout/planner";
import { VirtualClock } from "../tools/azure/clock";

function host(instanceId: string, o: Partial<HostState> = {}): HostState {
    return { instanceId, name: `avdprd${instanceId.padStart(6, "0")}`, sessionHostName: `avdprd${instanceId.padStart(6, "0")}`, imageVersion: "1.1.0", onTarget: false, busy: false, health: "healthy", avdStatus: "Available", draining: false, sessions: 0, ...o };
}

const ids = (hosts: readonly HostState[]) => hosts.map((h) => h.instanceId);

describe("paced rollouts: the window (src/rollout/pacing.ts)", () => {
    it("starts with one canary, doubles per round of healthy hosts up to the step, and goes back to one after a failure", () => {
        const w = new SlotWindow(6);
        assert.equal(w.unverified, 1);
        assert.equal(w.canary, true);
        w.hostReady();
        assert.deepEqual([w.unverified, w.canary], [2, false], "the canary came back: two at once");
        w.hostReady();
        assert.equal(w.unverified, 3);
        w.hostReady();
        w.hostReady();
        assert.equal(w.unverified, 5, "a round of two healthy hosts after the canary: 1 -> 2 -> 4 (+1)");
        for (let i = 0; i < 10; i++) w.hostReady();
        assert.equal(w.unverified, 6, "never above the step");
        w.hostFailed();
        assert.deepEqual([w.unverified, w.canary], [1, true], "after a failure the next host is a canary again");
    });

    it("a step of one host stays one host", () => {
        const w = new SlotWindow(1);
        w.hostReady();
        assert.deepEqual([w.unverified, w.canary], [1, false]);
    });
});

describe("paced rollouts: the order in which hosts leave service", () => {
    const hosts = [host("0", { sessions: 2, zone: "1" }), host("1", { sessions: 0, zone: "1" }), host("2", { sessions: 4, zone: "2" }), host("3", { sessions: 1, zone: "2" }), host("4", { sessions: 2, zone: "3" }), host("5", { sessions: 0, zone: "3" })];

    it("for the canary: the fewest users first, so its verdict comes fast with little at stake", () => {
        assert.deepEqual(ids(pacedOrder(hosts, false, true)), ["1", "5", "3", "0", "4", "2"]);
    });

    it("otherwise the most users first, so the longest drains start early and the end of the rollout is not left waiting on them", () => {
        assert.deepEqual(ids(pacedOrder(hosts, false, false)), ["2", "0", "4", "3", "1", "5"]);
    });

    it("spreads hosts with as many users over availability zones", () => {
        const even = [host("0", { zone: "1" }), host("1", { zone: "1" }), host("2", { zone: "2" }), host("3", { zone: "2" }), host("4", { zone: "3" }), host("5", { zone: "3" })];
        assert.deepEqual(pacedOrder(even, false, false).map((h) => h.zone), ["1", "2", "3", "1", "2", "3"]);
    });

    it("takes unhealthy hosts first when prioritizeUnhealthyInstances is on (they serve nobody)", () => {
        const withSick = [...hosts, host("6", { sessions: 0, health: "unhealthy" }), host("7", { sessions: 3, avdStatus: "Unavailable" })];
        assert.deepEqual(ids(pacedOrder(withSick, true, false)).slice(0, 2), ["7", "6"]);
        assert.deepEqual(ids(pacedOrder(withSick, false, false)).slice(0, 2), ["2", "7"], "off: by users only");
    });
});

describe("paced rollouts: thresholds over the hosts not in flight", () => {
    const policy: RolloutPolicy = { maxBatchInstancePercent: 20, maxUnhealthyInstancePercent: 20, maxUnhealthyUpgradedInstancePercent: 20, prioritizeUnhealthyInstances: true };

    it("does not judge a host whose health timeout still runs, and judges it once it is no longer in flight", () => {
        const starting = host("0", { onTarget: true, imageVersion: "1.2.0", health: "unknown", avdStatus: "Unavailable", draining: true, drainedByRollout: true });
        const hosts = [starting, ...Array.from({ length: 9 }, (_, i) => host(String(i + 1)))];
        const progress = { ...initialProgress(), attempted: new Set(["0"]) };
        assert.equal(checkThresholds(hosts, policy, progress, new Set(["0"])), undefined, "in flight: not judged yet");
        assert.match(checkThresholds(hosts, policy, progress)?.message ?? "", /1 of 1 host\(s\) on the new image are unhealthy/);
    });
});

describe("virtual clock shared by two tools", () => {
    it("stands still while held work is under way, so one tool's sleep does not run out during the other's request", async () => {
        const clock = new VirtualClock(0);
        const seen: number[] = [];
        let release: () => void = () => undefined;
        const request = clock.hold(() => new Promise<void>((resolve) => (release = resolve)));
        const sleeper = clock.sleep(30_000).then(() => seen.push(clock.now()));
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setImmediate(r));
        assert.deepEqual(seen, [], "the sleeper waits while the request is held");
        assert.equal(clock.now(), 0);
        release();
        await request;
        await sleeper;
        assert.deepEqual(seen, [30_000], "then time moves to its wake time");
    });
});
