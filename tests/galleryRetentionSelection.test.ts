// Which gallery versions retention deletes (src/lifecycle/retention.ts): never a pinned,
// validated or rollback version, never one of the newest `keep`, never one still replicating or
// blocked by its end of life; a seeded sweep checks the same rules over random galleries.
import { strict as assert } from "node:assert";
import * as semver from "semver";
import { rollbackTarget, selectRetention, type GalleryVersion, type RingPin } from "../src/lifecycle/retention";
import { seededRandom } from "./fakeAzure/server";

const NOW = Date.parse("2026-12-02T00:00:00Z");
const ok = (name: string, extra: Partial<GalleryVersion> = {}): GalleryVersion => ({ name, provisioningState: "Succeeded", ...extra });
const gallery = (...names: string[]) => names.map((n) => ok(n));

describe("gallery retention selection", () => {
    it("keeps the newest `keep` versions in semver order (1.10.0 is newer than 1.9.0) and deletes the rest, oldest first", () => {
        const d = selectRetention(gallery("1.9.0", "1.10.0", "1.2.0", "1.0.0", "1.1.0", "2.0.0"), { keep: 3, pins: [], now: NOW });
        assert.deepEqual(d.delete, ["1.0.0", "1.1.0", "1.2.0"]);
        assert.deepEqual(d.kept.map((k) => k.version), ["2.0.0", "1.10.0", "1.9.0"]);
        assert.deepEqual(d.kept[0].reasons, ["among the newest 3"]);
    });

    it("never deletes what a ring pins, has validated, or would roll back to, and says which ring holds it", () => {
        const pins: RingPin[] = [
            { ring: "org/avd-image-rings/test", imageVersion: "1.6.0", validatedImageVersion: "1.6.0" },
            // Mid-rollout: pinned 1.3.0, still validated on 1.1.0.
            { ring: "org/avd-image-rings/pilot hostPools.default", imageVersion: "1.3.0", validatedImageVersion: "1.1.0" },
        ];
        const d = selectRetention(gallery("1.0.0", "1.0.1", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0", "1.6.0"), { keep: 1, pins, now: NOW });
        // 1.6.0 newest + pinned, 1.5.0 rollback of test, 1.3.0 pinned by pilot, 1.2.0 its rollback target,
        // 1.1.0 validated by pilot, 1.0.1 the rollback target of that validated version.
        assert.deepEqual(d.delete, ["1.0.0", "1.4.0"]);
        const why = Object.fromEntries(d.kept.map((k) => [k.version, k.reasons]));
        assert.deepEqual(why["1.5.0"], ["rollback target of org/avd-image-rings/test (next older than 1.6.0)"]);
        assert.deepEqual(why["1.3.0"], ["pinned by org/avd-image-rings/pilot hostPools.default"]);
        assert.deepEqual(why["1.2.0"], ["rollback target of org/avd-image-rings/pilot hostPools.default (next older than 1.3.0)"]);
        assert.deepEqual(why["1.1.0"], ["validated by org/avd-image-rings/pilot hostPools.default"]);
        assert.deepEqual(why["1.0.1"], ["rollback target of org/avd-image-rings/pilot hostPools.default (next older than 1.1.0)"]);
    });

    it("takes the rollback target among Succeeded versions only: a failed version between is skipped", () => {
        assert.equal(rollbackTarget("1.3.0", ["1.0.0", "1.2.0", "1.1.0"]), "1.2.0");
        const d = selectRetention([ok("1.0.0"), ok("1.1.0"), ok("1.2.0", { provisioningState: "Failed" }), ok("1.3.0")], {
            keep: 1,
            pins: [{ ring: "prod", imageVersion: "1.3.0" }],
            now: NOW,
        });
        assert.deepEqual(d.delete, ["1.0.0"]);
        assert.deepEqual(Object.fromEntries(d.kept.map((k) => [k.version, k.reasons])), {
            "1.3.0": ["among the newest 1", "pinned by prod"],
            "1.2.0": ["provisioning state Failed"],
            "1.1.0": ["rollback target of prod (next older than 1.3.0)"],
        });
    });

    it("never deletes a version still creating, replicating, deleting or failed, one named outside MAJOR.MINOR.PATCH, or one blocked until its end of life", () => {
        const d = selectRetention(
            [
                ok("1.0.0", { provisioningState: "Creating" }),
                ok("1.0.1", { replicationState: "InProgress" }),
                ok("1.0.2", { provisioningState: "Deleting" }),
                ok("1.0.3", { blockDeletionBeforeEndOfLife: true, endOfLifeDate: "2027-06-30T00:00:00Z" }),
                ok("1.0.4", { blockDeletionBeforeEndOfLife: true, endOfLifeDate: "2026-01-01T00:00:00Z" }),
                ok("1.0.5", { endOfLifeDate: "2027-06-30T00:00:00Z" }),
                ok("1.0.6", { replicationState: "Completed" }),
                ok("2024.01.5"),
                ok("9.0.0"),
            ],
            { keep: 1, pins: [], now: NOW },
        );
        assert.deepEqual(d.delete, ["1.0.4", "1.0.5", "1.0.6"], "an expired end of life and a date without the block do not protect");
        const why = Object.fromEntries(d.kept.map((k) => [k.version, k.reasons]));
        assert.deepEqual(why["1.0.0"], ["provisioning state Creating"]);
        assert.deepEqual(why["1.0.1"], ["replication InProgress"]);
        assert.deepEqual(why["1.0.2"], ["provisioning state Deleting"]);
        assert.deepEqual(why["1.0.3"], ["blockDeletionBeforeEndOfLife until its end of life 2027-06-30T00:00:00Z"]);
        assert.deepEqual(why["2024.01.5"], ["not a MAJOR.MINOR.PATCH name"]);
    });

    it("refuses a keep below 1: the newest version always stays", () => {
        assert.throws(() => selectRetention(gallery("1.0.0"), { keep: 0, pins: [], now: NOW }), /at least 1/);
    });

    describe("over random galleries and rings (seeded)", () => {
        for (const seed of [1, 2, 3, 42, 1337, 0xdecaf]) {
            it(`deletes only versions no rule protects, and every other version has a reason (seed ${seed})`, () => {
                const rng = seededRandom(seed);
                for (let round = 0; round < 200; round++) {
                    const names = new Set<string>();
                    const count = 1 + Math.floor(rng() * 25);
                    while (names.size < count) names.add(`${Math.floor(rng() * 3)}.${Math.floor(rng() * 12)}.${Math.floor(rng() * 3)}`);
                    const states = ["Succeeded", "Succeeded", "Succeeded", "Succeeded", "Failed", "Creating", "Deleting"];
                    const versions: GalleryVersion[] = [...names].map((name) => ({
                        name,
                        provisioningState: states[Math.floor(rng() * states.length)],
                        ...(rng() < 0.1 ? { replicationState: "InProgress" } : {}),
                        ...(rng() < 0.1 ? { blockDeletionBeforeEndOfLife: true, endOfLifeDate: new Date(NOW + (rng() < 0.5 ? 1 : -1) * 86_400_000).toISOString() } : {}),
                    }));
                    const pick = () => (rng() < 0.15 ? undefined : [...names][Math.floor(rng() * names.size)]);
                    const pins: RingPin[] = Array.from({ length: Math.floor(rng() * 4) }, (_, i) => ({ ring: `ring${i}`, imageVersion: pick(), validatedImageVersion: pick() }));
                    const keep = 1 + Math.floor(rng() * 6);
                    const d = selectRetention(versions, { keep, pins, now: NOW });

                    const succeeded = versions.filter((v) => v.provisioningState === "Succeeded").map((v) => v.name);
                    const newest = [...names].sort(semver.rcompare).slice(0, keep);
                    const protectedSet = new Set<string>(newest);
                    for (const p of pins) {
                        for (const v of [p.imageVersion, p.validatedImageVersion]) {
                            if (!v) continue;
                            protectedSet.add(v);
                            const older = succeeded.filter((s) => semver.lt(s, v)).sort(semver.rcompare)[0];
                            if (older) protectedSet.add(older);
                        }
                    }
                    const context = `seed ${seed} round ${round}: ${JSON.stringify({ versions, pins, keep })}`;
                    for (const name of d.delete) {
                        const v = versions.find((x) => x.name === name)!;
                        assert.ok(!protectedSet.has(name), `${name} is protected: ${context}`);
                        assert.equal(v.provisioningState, "Succeeded", context);
                        assert.equal(v.replicationState, undefined, context);
                        assert.ok(!(v.blockDeletionBeforeEndOfLife && Date.parse(v.endOfLifeDate!) > NOW), context);
                    }
                    assert.equal(d.delete.length + d.kept.length, versions.length, `every version is either deleted or kept: ${context}`);
                    assert.ok(d.kept.every((k) => k.reasons.length > 0), context);
                    assert.ok(newest.every((n) => !d.delete.includes(n)), context);
                    assert.deepEqual(d.delete, [...d.delete].sort(semver.compare), `oldest first: ${context}`);
                    // Nothing protectable is deleted, and nothing unprotected is kept.
                    const unprotected = versions.filter((v) => !protectedSet.has(v.name) && v.provisioningState === "Succeeded" && v.replicationState === undefined && !(v.blockDeletionBeforeEndOfLife && Date.parse(v.endOfLifeDate!) > NOW));
                    assert.deepEqual(new Set(d.delete), new Set(unprotected.map((v) => v.name)), context);
                }
            });
        }
    });
});
