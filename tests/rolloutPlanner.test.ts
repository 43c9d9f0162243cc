import * as assert from "node:assert/strict";
import { DurationError, parseIsoDuration } from "../src/rollout/duration";
import type { HostState } from "../src/rollout/hosts";
import { batchSize, checkThresholds, initialProgress, minimumServingHosts, nextBatchLimit, orderCandidates, planNextBatch, type Plan, type RolloutPolicy, type RunProgress } from "../src/rollout/planner";

const policy: RolloutPolicy = {
    maxBatchInstancePercent: 20,
    maxUnhealthyInstancePercent: 20,
    maxUnhealthyUpgradedInstancePercent: 20,
    prioritizeUnhealthyInstances: true,
};

/** A healthy, serving host on the old image. */
function host(instanceId: string, o: Partial<HostState> = {}): HostState {
    return {
        instanceId,
        name: `avdprd${instanceId.padStart(6, "0")}`,
        sessionHostName: `avdprd${instanceId.padStart(6, "0")}`,
        zone: undefined,
        imageVersion: "1.1.0",
        onTarget: false,
        busy: false,
        health: "healthy",
        avdStatus: "Available",
        draining: false,
        sessions: 0,
        ...o,
    };
}

function ring(n: number, o: (i: number) => Partial<HostState> = () => ({})): HostState[] {
    return Array.from({ length: n }, (_, i) => host(String(i), o(i)));
}

function progress(attempted: string[] = [], nextBatchLimit = 1): RunProgress {
    return { attempted: new Set(attempted), nextBatchLimit };
}

function batchIds(plan: Plan): string[] {
    assert.equal(plan.kind, "batch", JSON.stringify(plan));
    return plan.kind === "batch" ? [...plan.upgrade, ...plan.finish].map((h) => h.instanceId) : [];
}

describe("rollout planner: batch sizes", () => {
    it("takes the policy's share of the scale set, rounded down, never less than one host", () => {
        assert.equal(batchSize(10, 20), 2);
        assert.equal(batchSize(60, 10), 6);
        assert.equal(batchSize(6, 34), 2);
        assert.equal(batchSize(2, 50), 1);
        assert.equal(batchSize(3, 5), 1, "a small ring still moves one host at a time");
    });

    it("starts with one canary host and doubles while batches come back healthy, up to the full batch", () => {
        assert.equal(initialProgress().nextBatchLimit, 1);
        assert.equal(nextBatchLimit(1, 6, true), 2);
        assert.equal(nextBatchLimit(2, 6, true), 4);
        assert.equal(nextBatchLimit(4, 6, true), 6);
        assert.equal(nextBatchLimit(6, 6, true), 6);
        assert.equal(nextBatchLimit(4, 6, false), 1, "an unhealthy host sends the next batch back to a single canary");
    });

    it("never puts more hosts in a batch than the limit allows", () => {
        const hosts = ring(10);
        assert.deepEqual(batchIds(planNextBatch(hosts, policy, progress())), ["0"]);
        assert.equal(batchIds(planNextBatch(hosts, policy, progress([], 2))).length, 2);
        assert.equal(batchIds(planNextBatch(hosts, policy, progress([], 64))).length, 2, "capped at 20% of 10");
    });
});

describe("rollout planner: order", () => {
    it("upgrades unhealthy hosts first when prioritizeUnhealthyInstances is on", () => {
        const hosts = ring(10, (i) => (i === 7 ? { health: "unhealthy" } : i === 4 ? { avdStatus: "Unavailable" } : {}));
        assert.deepEqual(batchIds(planNextBatch(hosts, policy, progress([], 2))), ["4", "7"]);
        assert.deepEqual(batchIds(planNextBatch(hosts, { ...policy, prioritizeUnhealthyInstances: false }, progress([], 2))), ["0", "1"]);
    });

    it("spreads consecutive hosts over availability zones so no zone loses its capacity first", () => {
        const hosts = ring(9, (i) => ({ zone: String((Math.floor(i / 3) % 3) + 1) }));
        const order = orderCandidates(hosts, true).map((h) => h.zone);
        assert.deepEqual(order, ["1", "2", "3", "1", "2", "3", "1", "2", "3"]);
        const uneven = ring(6, (i) => ({ zone: i < 4 ? "1" : "2" }));
        assert.deepEqual(orderCandidates(uneven, true).map((h) => h.zone), ["1", "2", "1", "1", "2", "1"]);
    });

    it("takes hosts with the fewest signed-in users first within a zone", () => {
        const hosts = ring(4, (i) => ({ zone: "1", sessions: [5, 0, 3, 1][i] }));
        assert.deepEqual(orderCandidates(hosts, true).map((h) => h.instanceId), ["1", "3", "2", "0"]);
    });
});

describe("rollout planner: thresholds", () => {
    it("counts untouched hosts towards maxUnhealthyInstancePercent over the whole scale set", () => {
        const hosts = ring(10, (i) => (i < 3 ? { avdStatus: "Unavailable" } : {}));
        const breach = checkThresholds(hosts, policy, progress());
        assert.equal(breach?.kind, "unhealthy");
        assert.match(breach?.message ?? "", /3 of 10 host\(s\) in the scale set are unhealthy \(30% > maxUnhealthyInstancePercent 20%\)/);
        assert.deepEqual(breach?.hosts.map((h) => h.instanceId), ["0", "1", "2"]);
        const plan = planNextBatch(hosts, policy, progress());
        assert.equal(plan.kind, "stop", "Azure's rule: checked before every batch");
        assert.equal(checkThresholds(hosts.slice(1).concat(host("9b")), policy, progress()), undefined, "2 of 10 is exactly 20%: allowed");
    });

    it("judges maxUnhealthyUpgradedInstancePercent over the hosts on the new image only", () => {
        const hosts = ring(10, (i) => (i < 2 ? { onTarget: true, imageVersion: "1.2.0", health: i === 0 ? "unhealthy" : "healthy", draining: i === 0 } : {}));
        const breach = checkThresholds(hosts, policy, progress(["0", "1"]));
        assert.equal(breach?.kind, "unhealthyUpgraded");
        assert.match(breach?.message ?? "", /1 of 2 host\(s\) on the new image are unhealthy \(50% > maxUnhealthyUpgradedInstancePercent 20%\)/);
        assert.equal(checkThresholds(hosts, { ...policy, maxUnhealthyUpgradedInstancePercent: 50 }, progress(["0", "1"])), undefined);
        assert.equal(checkThresholds(hosts, { ...policy, maxUnhealthyUpgradedInstancePercent: 0 }, progress(["0", "1"]))?.kind, "unhealthyUpgraded", "0% tolerates no unhealthy host");
    });

    it("does not judge hosts still in flight: busy, or left in drain mode by an earlier run", () => {
        const hosts = ring(5, (i) => (i === 0 ? { busy: true, health: "unknown" } : i === 1 ? { draining: true, drainedByRollout: true, onTarget: true, health: "unknown", avdStatus: "Unavailable" } : {}));
        assert.equal(checkThresholds(hosts, { ...policy, maxUnhealthyUpgradedInstancePercent: 0, maxUnhealthyInstancePercent: 0 }, progress()), undefined);
    });
});

describe("rollout planner: capacity", () => {
    it("never drains below the serving floor (scale set minus a batch minus the unhealthy allowance)", () => {
        assert.equal(minimumServingHosts(10, policy), 6);
        assert.equal(minimumServingHosts(2, { ...policy, maxBatchInstancePercent: 50, maxUnhealthyInstancePercent: 50 }), 0);
        // Hosts this run already took out of service and could not return still count as out.
        const hosts = ring(10, (i) => (i < 3 ? { draining: true, drainedByRollout: true } : {}));
        const plan = planNextBatch(hosts, policy, progress(["0", "1", "2"], 2));
        assert.deepEqual(batchIds(plan), ["3"], "7 serving, floor 6: only one more may drain");
        const none = planNextBatch(ring(10, (i) => (i < 4 ? { draining: true, drainedByRollout: true } : {})), policy, progress(["0", "1", "2", "3"], 2));
        assert.equal(none.kind, "stop");
        assert.match(none.kind === "stop" ? none.reason : "", /fewer than 6 of 10 host\(s\) taking new users/);
    });

    it("drains unhealthy hosts without counting them against the floor: they serve nobody", () => {
        const hosts = ring(10, (i) => (i === 9 ? { avdStatus: "NeedsAssistance" } : i < 3 ? { draining: true, drainedByRollout: true } : {}));
        assert.deepEqual(batchIds(planNextBatch(hosts, policy, progress(["0", "1", "2"], 2))), ["9"]);
    });
});

describe("rollout planner: resume", () => {
    it("is done when every host is on the target image", () => {
        assert.deepEqual(planNextBatch(ring(4, () => ({ onTarget: true })), policy, progress()), { kind: "done" });
    });

    it("waits for Azure operations a crashed run started before deciding anything", () => {
        const plan = planNextBatch(ring(4, (i) => (i === 2 ? { busy: true, draining: true, drainedByRollout: true } : {})), policy, progress());
        assert.equal(plan.kind, "wait");
        assert.deepEqual(plan.kind === "wait" ? plan.hosts.map((h) => h.instanceId) : [], ["2"]);
    });

    it("finishes hosts a crashed run left in drain mode before starting anything new", () => {
        const hosts = ring(10, (i) =>
            i === 3 ? { draining: true, drainedByRollout: true, sessions: 2 } : i === 6 ? { draining: true, drainedByRollout: true, onTarget: true, imageVersion: "1.2.0" } : i < 3 ? { onTarget: true, imageVersion: "1.2.0" } : {},
        );
        const plan = planNextBatch(hosts, policy, progress());
        assert.equal(plan.kind, "batch");
        if (plan.kind !== "batch") return;
        assert.equal(plan.resume, true);
        assert.deepEqual(plan.upgrade.map((h) => h.instanceId), ["3"], "drained but still on the old image: upgrade it");
        assert.deepEqual(plan.finish.map((h) => h.instanceId), ["6"], "already upgraded: only wait for health and return it to service");
    });

    it("treats a host someone else drained as a candidate for the upgrade, never as a leftover to finish", () => {
        const hosts = ring(10, (i) => (i === 4 ? { draining: true } : i === 7 ? { draining: true, onTarget: true, imageVersion: "1.2.0" } : {}));
        const first = planNextBatch(hosts, policy, progress([], 2));
        assert.equal(first.kind === "batch" && first.resume, false, "not finished first as if the rollout had drained it");
        const plan = planNextBatch(hosts, policy, progress(["0", "1", "2", "3", "5", "6", "8", "9"], 2));
        assert.deepEqual(batchIds(plan), ["4"], "on the old image: upgraded like any other host");
        assert.equal(planNextBatch(hosts, policy, progress(["0", "1", "2", "3", "4", "5", "6", "8", "9"], 2)).kind, "done", "already on the target: left alone");
    });

    it("keeps hosts already on the target image and healthy, and moves on to the rest", () => {
        const hosts = ring(10, (i) => (i < 5 ? { onTarget: true, imageVersion: "1.2.0" } : {}));
        assert.deepEqual(batchIds(planNextBatch(hosts, policy, progress())), ["5"]);
    });

    it("does not pick a host twice in one run, even when it came back unhealthy within tolerance", () => {
        const hosts = ring(10, (i) => (i === 0 ? { onTarget: true, draining: true, drainedByRollout: true, health: "unhealthy" } : {}));
        const plan = planNextBatch(hosts, { ...policy, maxUnhealthyUpgradedInstancePercent: 100 }, progress(["0"], 2));
        assert.deepEqual(batchIds(plan), ["1", "2"]);
    });
});

describe("ISO 8601 pause between batches", () => {
    it("parses the durations Azure's rolling upgrade policy uses", () => {
        assert.equal(parseIsoDuration("PT5M"), 300_000);
        assert.equal(parseIsoDuration("PT1H30M"), 5_400_000);
        assert.equal(parseIsoDuration("PT0S"), 0);
        assert.equal(parseIsoDuration("PT1.5S"), 1500);
        assert.equal(parseIsoDuration("P1DT2H"), 93_600_000);
        assert.equal(parseIsoDuration("pt15m"), 900_000);
    });

    it("refuses malformed durations and calendar units", () => {
        for (const bad of ["5M", "PT", "P", "PT5X", "10 minutes", ""]) assert.throws(() => parseIsoDuration(bad), DurationError, bad);
        assert.throws(() => parseIsoDuration("P1M"), /years or months/);
        assert.throws(() => parseIsoDuration("P1Y"), /years or months/);
    });
});
