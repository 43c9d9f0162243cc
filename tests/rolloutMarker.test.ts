import * as assert from "node:assert/strict";
import { DRAINED_TAG, formatInstanceIds, formatLock, LOCK_TAG, parseInstanceIds, parseLock, TAG_VALUE_MAX } from "../tools/rollout/marker";

describe("rollout marker tags on the scale set", () => {
    it("uses two tag names Azure accepts", () => {
        for (const name of [LOCK_TAG, DRAINED_TAG]) {
            assert.ok(name.length <= 512 && !/[<>%&\\?/]/.test(name), name);
            assert.ok(!/^(microsoft|azure|windows)/i.test(name), "no reserved prefix");
        }
    });

    it("writes drained instance ids as ranges and reads them back", () => {
        assert.equal(formatInstanceIds(["12", "3", "4", "5", "7", "6", "20"]), "3-7,12,20");
        assert.deepEqual([...parseInstanceIds("3-7,12,20")].sort((a, b) => Number(a) - Number(b)), ["3", "4", "5", "6", "7", "12", "20"]);
        assert.equal(formatInstanceIds([]), "");
        assert.deepEqual([...parseInstanceIds(undefined)], []);
        // A full 20% batch of a thousand-host scale set, spread over zones, still fits one tag value.
        const scattered = Array.from({ length: 200 }, (_, i) => String(i * 3 + (i % 3)));
        const value = formatInstanceIds(scattered);
        assert.ok(value.length <= TAG_VALUE_MAX, `${value.length} characters`);
        assert.deepEqual([...parseInstanceIds(value)].sort(), [...scattered].sort());
    });

    it("round-trips the lock and refuses values that are not a lock", () => {
        const lock = { run: "5b0c9d2e-1f3a-4b5c-8d7e-9f0a1b2c3d4e", owner: "ada@build-agent-7 (GitHub run 123)", version: "1.2.0", until: Date.UTC(2026, 0, 12, 9, 0, 0) };
        const value = formatLock(lock);
        assert.ok(value.length <= TAG_VALUE_MAX);
        assert.deepEqual(parseLock(value), lock);
        assert.equal(parseLock("locked by bob"), undefined);
        assert.equal(parseLock(undefined), undefined);
    });
});
