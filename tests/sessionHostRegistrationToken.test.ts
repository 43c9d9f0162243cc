import { strict as assert } from "node:assert";
import { registrationTokenWindow, renewalIntervalHours } from "../src/sessionHosts/registrationToken";

const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;
const at = (iso: string) => new Date(iso);
const plus = (d: Date, ms: number) => new Date(d.getTime() + ms);

describe("host-pool registration token expiry", () => {
    it("sets a 27-day token issued at the start of its 18-day window (windows counted from 1970-01-01)", () => {
        // 2026-11-20 is day 20777 since the epoch; 18-day windows start on multiples of 18: day 20772 = 2026-11-15.
        const w = registrationTokenWindow(at("2026-11-20T10:00:00Z"), 27);
        assert.equal(w.windowStart.toISOString(), "2026-11-15T00:00:00.000Z");
        assert.equal(w.expirationTime, "2026-12-12T00:00:00.000Z");
        assert.equal(w.renewFrom.toISOString(), "2026-12-03T00:00:00.000Z");
    });

    it("keeps the same expirationTime for every pulumi up inside one window, so nothing changes between runs", () => {
        const w = registrationTokenWindow(at("2026-11-20T10:00:00Z"), 27);
        const ups = [plus(w.windowStart, 1), plus(w.windowStart, 3 * DAY_MS), plus(w.renewFrom, -1)];
        for (const now of ups) {
            assert.equal(registrationTokenWindow(now, 27).expirationTime, w.expirationTime, `pulumi up at ${now.toISOString()}`);
        }
    });

    it("renews on the first pulumi up once less than a third of the token's life is left, while the old token is still valid", () => {
        const first = registrationTokenWindow(at("2026-11-20T10:00:00Z"), 27);
        const lastUpBefore = plus(first.renewFrom, -1);
        const remainingBefore = Date.parse(first.expirationTime) - lastUpBefore.getTime();
        assert.ok(remainingBefore >= 9 * DAY_MS, "a third of 27 days is still left just before renewal");

        const renewed = registrationTokenWindow(first.renewFrom, 27);
        assert.notEqual(renewed.expirationTime, first.expirationTime);
        assert.ok(Date.parse(first.expirationTime) > first.renewFrom.getTime(), "the old token has not expired when the new one is issued");
        assert.equal(Date.parse(renewed.expirationTime) - Date.parse(first.expirationTime), 18 * DAY_MS);
    });

    for (const validityDays of [1, 2, 7, 27]) {
        it(`never hands out an expired or too-long-lived token (${validityDays}-day validity, any hour over 60 days)`, () => {
            const start = at("2026-01-01T00:00:00Z").getTime();
            const expirations = new Set<string>();
            for (let t = start; t < start + 60 * DAY_MS; t += HOUR_MS) {
                const { expirationTime } = registrationTokenWindow(new Date(t), validityDays);
                const remaining = Date.parse(expirationTime) - t;
                assert.ok(remaining <= validityDays * DAY_MS, `at most ${validityDays} days (AVD refuses longer)`);
                // Azure wants at least an hour; the window guarantees about a third of the validity.
                assert.ok(remaining >= (validityDays * DAY_MS) / 3 - HOUR_MS, `at least a third of the validity left at ${new Date(t).toISOString()}`);
                expirations.add(expirationTime);
            }
            const expectedRenewals = Math.ceil((60 * 24) / renewalIntervalHours(validityDays));
            assert.ok(expirations.size <= expectedRenewals + 1, `renewed about every ${renewalIntervalHours(validityDays)} h, not on every run`);
        });
    }

    it("rejects a validity AVD does not accept", () => {
        assert.throws(() => registrationTokenWindow(new Date(), 0), /1 to 27/);
        assert.throws(() => registrationTokenWindow(new Date(), 28), /1 to 27/);
        assert.throws(() => registrationTokenWindow(new Date(), 2.5), /whole number/);
    });
});
