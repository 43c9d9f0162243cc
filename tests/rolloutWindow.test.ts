// Maintenance windows (src/rollout/window.ts, src/config/window.ts) and the host pool's agent-update
// schedule from them (src/sessionHosts/agentUpdate.ts): inside/outside, across midnight, DST changes
// in both hemispheres, waiting versus stopping, and the config's refusals.
import { strict as assert } from "node:assert";
import { parseRolloutWindow, rolloutWindowFromJson } from "../src/config/window";
import { ConfigError, Reader } from "../src/config/reader";
import { describeInstant, instantOfWallClock, windowDecision, windowIntervals, windowState, type RolloutWindow } from "../src/rollout/window";
import { rolloutEnvironment } from "../src/rollout/commands";
import { agentUpdateFromWindow } from "../src/sessionHosts/agentUpdate";
import { hostPoolArgs } from "../src/sessionHosts/hostPool";
import { sessionHostResourceNames } from "../src/sessionHosts/naming";
import { readRolloutInputs } from "../tools/rollout/env";
import { onlyPool } from "./fixtures/fleet";
import { singleImageRing, singleImageValues } from "./fixtures/singleImageStacks";

const utc = (iso: string) => Date.parse(iso);
const win = (w: Partial<RolloutWindow>): RolloutWindow => ({ days: ["Sat", "Sun"], start: "22:00", end: "05:00", timeZone: "Europe/Berlin", waitMinutes: 0, agentUpdate: false, ...w });
const HOUR = 3_600_000;

function parse(value: Record<string, unknown>) {
    // The reader the rollout block of parseSessionHosts hands over for `window`.
    return parseRolloutWindow(new Reader("Pulumi.prod.yaml", "avd-image-rings:sessionHosts.rollout.window", value as never));
}

describe("maintenance windows", () => {
    describe("inside or outside", () => {
        it("a window across midnight belongs to the day it opens on and closes the next morning", () => {
            const w = win({ days: ["Fri"] });
            // Fri 2026-12-04 22:00 CET = 21:00 UTC; closes Sat 05:00 CET = 04:00 UTC.
            assert.deepEqual(windowState(w, utc("2026-12-04T21:30:00Z")), { inside: true, closesAt: utc("2026-12-05T04:00:00Z") });
            assert.deepEqual(windowState(w, utc("2026-12-05T03:59:00Z")), { inside: true, closesAt: utc("2026-12-05T04:00:00Z") });
            const after = windowState(w, utc("2026-12-05T04:00:00Z"));
            assert.deepEqual(after, { inside: false, opensAt: utc("2026-12-11T21:00:00Z"), closesAt: utc("2026-12-12T04:00:00Z") });
            // Thursday evening: not a listed day.
            assert.equal(windowState(w, utc("2026-12-03T22:00:00Z")).inside, false);
        });

        it("the local day counts, not the UTC day: Saturday 00:30 in Tokyo is Friday in UTC", () => {
            const w = win({ days: ["Sat"], start: "00:00", end: "02:00", timeZone: "Asia/Tokyo" });
            assert.deepEqual(windowState(w, utc("2026-12-04T15:30:00Z")), { inside: true, closesAt: utc("2026-12-04T17:00:00Z") });
        });

        it("whole days in a row merge into one opening", () => {
            const w = win({ days: ["Sat", "Sun"], start: "00:00", end: "24:00", timeZone: "UTC" });
            assert.deepEqual(windowState(w, utc("2026-12-05T23:59:00Z")), { inside: true, closesAt: utc("2026-12-07T00:00:00Z") });
            assert.deepEqual(windowIntervals(w, utc("2026-12-01T00:00:00Z"), utc("2026-12-08T00:00:00Z")), [{ opensAt: utc("2026-12-05T00:00:00Z"), closesAt: utc("2026-12-07T00:00:00Z") }]);
        });

        it("half-hour zones keep their offset (Asia/Kolkata, UTC+05:30)", () => {
            const w = win({ days: ["Mon"], start: "01:00", end: "03:00", timeZone: "Asia/Kolkata" });
            const s = windowState(w, utc("2026-12-06T12:00:00Z"));
            assert.deepEqual(s, { inside: false, opensAt: utc("2026-12-06T19:30:00Z"), closesAt: utc("2026-12-06T21:30:00Z") });
        });
    });

    describe("daylight saving time", () => {
        it("spring forward: a start in the skipped hour opens when the clock has jumped (Berlin, 2027-03-28)", () => {
            const w = win({ days: ["Sun"], start: "02:30", end: "04:00" });
            // 02:30 does not exist; 03:30 CEST = 01:30 UTC. 04:00 CEST = 02:00 UTC.
            assert.deepEqual(windowState(w, utc("2027-03-28T00:00:00Z")), { inside: false, opensAt: utc("2027-03-28T01:30:00Z"), closesAt: utc("2027-03-28T02:00:00Z") });
            assert.equal(instantOfWallClock(Date.UTC(2027, 2, 28, 2, 30), "Europe/Berlin"), utc("2027-03-28T01:30:00Z"));
        });

        it("spring forward: an overnight window is an hour shorter that night", () => {
            const w = win({ days: ["Sat"], start: "22:00", end: "05:00" });
            const [i] = windowIntervals(w, utc("2027-03-27T12:00:00Z"), utc("2027-03-28T12:00:00Z"));
            assert.deepEqual(i, { opensAt: utc("2027-03-27T21:00:00Z"), closesAt: utc("2027-03-28T03:00:00Z") });
            assert.equal((i.closesAt - i.opensAt) / HOUR, 6);
        });

        it("spring forward: a window wholly inside the skipped hour moves with the clock (02:00-02:45 runs 03:00-03:45 CEST)", () => {
            const w = win({ days: ["Sun"], start: "02:00", end: "02:45" });
            const s = windowState(w, utc("2027-03-27T12:00:00Z"));
            assert.deepEqual(s, { inside: false, opensAt: utc("2027-03-28T01:00:00Z"), closesAt: utc("2027-03-28T01:45:00Z") });
            // A week later, back to 02:00 CEST = 00:00 UTC.
            assert.deepEqual(windowState(w, utc("2027-03-29T00:00:00Z")), { inside: false, opensAt: utc("2027-04-04T00:00:00Z"), closesAt: utc("2027-04-04T00:45:00Z") });
        });

        it("fall back: a repeated local time is its first occurrence, so the window is an hour longer (Berlin, 2027-10-31)", () => {
            const w = win({ days: ["Sun"], start: "02:30", end: "03:00" });
            // First 02:30 is CEST (00:30 UTC); 03:00 CET is 02:00 UTC.
            assert.deepEqual(windowIntervals(w, utc("2027-10-30T12:00:00Z"), utc("2027-10-31T12:00:00Z")), [{ opensAt: utc("2027-10-31T00:30:00Z"), closesAt: utc("2027-10-31T02:00:00Z") }]);
        });

        it("New York springs forward on its own date (2027-03-14), two weeks before Europe", () => {
            const w = win({ days: ["Sun"], start: "01:00", end: "04:00", timeZone: "America/New_York" });
            // 01:00 EST = 06:00 UTC; 04:00 EDT = 08:00 UTC.
            assert.deepEqual(windowIntervals(w, utc("2027-03-13T12:00:00Z"), utc("2027-03-14T12:00:00Z")), [{ opensAt: utc("2027-03-14T06:00:00Z"), closesAt: utc("2027-03-14T08:00:00Z") }]);
        });

        it("the southern hemisphere springs forward in October (Sydney, 2027-10-03)", () => {
            const w = win({ days: ["Sun"], start: "01:00", end: "04:00", timeZone: "Australia/Sydney" });
            // 01:00 AEST (+10) = Sat 15:00 UTC; 04:00 AEDT (+11) = Sat 17:00 UTC.
            assert.deepEqual(windowIntervals(w, utc("2027-10-02T00:00:00Z"), utc("2027-10-03T00:00:00Z")), [{ opensAt: utc("2027-10-02T15:00:00Z"), closesAt: utc("2027-10-02T17:00:00Z") }]);
        });
    });

    describe("wait or stop", () => {
        const w = win({ days: ["Sat"], start: "22:00", end: "05:00", waitMinutes: 120 });
        it("drains inside the window", () => {
            assert.deepEqual(windowDecision(w, utc("2026-12-05T22:00:00Z")), { kind: "drain", closesAt: utc("2026-12-06T04:00:00Z") });
        });
        it("waits when the window opens within waitMinutes", () => {
            assert.equal(windowDecision(w, utc("2026-12-05T19:00:00Z")).kind, "wait");
            assert.equal(windowDecision(w, utc("2026-12-05T18:59:00Z")).kind, "stop");
        });
        it("stops rather than wait past the run's time box", () => {
            assert.equal(windowDecision(w, utc("2026-12-05T20:00:00Z"), utc("2026-12-05T21:00:00Z")).kind, "stop");
            assert.equal(windowDecision(w, utc("2026-12-05T20:00:00Z"), utc("2026-12-05T21:00:01Z")).kind, "wait");
        });
        it("waitMinutes 0 never waits", () => {
            assert.equal(windowDecision({ ...w, waitMinutes: 0 }, utc("2026-12-05T20:59:00Z")).kind, "stop");
        });
        it("says when in local time and UTC", () => {
            assert.equal(describeInstant(utc("2026-12-05T21:00:00Z"), "Europe/Berlin"), "Sat 2026-12-05 22:00 Europe/Berlin (21:00 UTC)");
            assert.equal(describeInstant(utc("2026-12-05T21:00:00Z"), "UTC"), "Sat 2026-12-05 21:00 UTC");
        });
    });

    describe("config", () => {
        it("parses a window with defaults", () => {
            assert.deepEqual(parse({ days: ["Sat", "Sun"], start: "22:00", end: "05:00", timeZone: "Europe/Berlin" }), win({}));
        });
        for (const [value, message] of [
            [{ days: ["Saturday"], start: "22:00", end: "05:00", timeZone: "UTC" }, /window\.days\[0\] must be one of Mon, Tue, Wed, Thu, Fri, Sat, Sun, got "Saturday" \(did you mean "Sat"\?\)/],
            [{ days: [], start: "22:00", end: "05:00", timeZone: "UTC" }, /window\.days must list at least one day/],
            [{ days: ["Sat", "Sat"], start: "22:00", end: "05:00", timeZone: "UTC" }, /window\.days\[1\] lists Sat twice/],
            [{ days: ["Sat"], start: "10pm", end: "05:00", timeZone: "UTC" }, /window\.start must be a 24-hour local time "HH:MM" \(00:00 to 23:59\), got "10pm"/],
            [{ days: ["Sat"], start: "24:00", end: "05:00", timeZone: "UTC" }, /window\.start must be a 24-hour local time/],
            [{ days: ["Sat"], start: "22:00", end: "22:00", timeZone: "UTC" }, /window\.end equals start \(22:00\): a window needs a length; for a whole day use start "00:00" and end "24:00"/],
            [{ days: ["Sat"], start: "22:00", end: "05:00", timeZone: "W. Europe Standard Time" }, /window\.timeZone must be an IANA time zone such as "Europe\/Berlin"/],
            [{ days: ["Sat"], start: "22:00", end: "05:00", timeZone: "+01:00" }, /window\.timeZone must be an IANA time zone/],
            [{ days: ["Sat"], start: "22:00", end: "05:00", timeZone: "UTC", waitMinutes: 20000 }, /window\.waitMinutes must be between 0 and 10080/],
            [{ days: ["Sat"], start: "22:00", end: "05:00", timeZone: "UTC", timezone: "UTC" }, /window\.timezone is not a known key \(did you mean "timeZone"\?\)/],
            [{ days: ["Fri", "Sat", "Sun"], start: "22:00", end: "05:00", timeZone: "UTC", agentUpdate: true }, /window\.agentUpdate cannot be true with 3 days: AVD schedules agent updates in at most 2 windows a week/],
            [{ days: ["Sat"], start: "22:30", end: "00:00", timeZone: "UTC", agentUpdate: true }, /window\.agentUpdate needs a window of at least two whole hours from a full hour/],
        ] as const) {
            it(`refuses ${JSON.stringify(value)}`, () => {
                assert.throws(() => parse(value), (e: unknown) => e instanceof ConfigError && /^Pulumi\.prod\.yaml: avd-image-rings:sessionHosts\.rollout\.window\./.test(e.message) && message.test(e.message));
            });
        }
        it("the tool reads the same object from AVD_ROLLOUT_WINDOW and refuses what the config refuses", () => {
            assert.deepEqual(rolloutWindowFromJson({ days: ["Sat", "Sun"], start: "22:00", end: "05:00", timeZone: "Europe/Berlin", waitMinutes: 0 }), win({}));
            assert.deepEqual(rolloutWindowFromJson({ days: ["Sat"], start: "22:00", end: "22:00", timeZone: "UTC" }), { problem: 'end equals start (22:00): a window needs a length; for a whole day use start "00:00" and end "24:00"' });
            assert.match((rolloutWindowFromJson({ days: ["Sat"], start: "22:00", end: "05:00", timeZone: "Mars/Olympus" }) as { problem: string }).problem, /^timeZone must be an IANA time zone/);
        });
    });

    describe("the host pool's agent updates from the window", () => {
        it("one two-hour slot per day from the window's start hour, in the Windows name of the zone", () => {
            assert.deepEqual(agentUpdateFromWindow(win({ agentUpdate: true })), {
                type: "Scheduled",
                useSessionHostLocalTime: false,
                maintenanceWindowTimeZone: "W. Europe Standard Time",
                maintenanceWindows: [
                    { dayOfWeek: "Saturday", hour: 22 },
                    { dayOfWeek: "Sunday", hour: 22 },
                ],
            });
        });
        it("a start off the hour moves to the next full hour, past midnight onto the next day", () => {
            const a = agentUpdateFromWindow(win({ days: ["Sun"], start: "23:30", end: "03:00", timeZone: "America/New_York", agentUpdate: true }));
            assert.deepEqual(a.maintenanceWindows, [{ dayOfWeek: "Monday", hour: 0 }]);
            assert.equal(a.maintenanceWindowTimeZone, "Eastern Standard Time");
        });
        it("an IANA alias maps through its canonical name (Europe/Kyiv)", () => {
            assert.equal(agentUpdateFromWindow(win({ days: ["Sat"], timeZone: "Europe/Kyiv", agentUpdate: true })).maintenanceWindowTimeZone, "FLE Standard Time");
        });
    });

    describe("through the stack config to the tool and the host pool", () => {
        function prodWith(window: Record<string, unknown> | undefined) {
            const sh = singleImageValues("prod").sessionHosts as Record<string, unknown>;
            const sessionHosts = { ...sh, rollout: { ...(sh.rollout as Record<string, unknown>), ...(window ? { window } : {}) } };
            return onlyPool(singleImageRing("prod", { sessionHosts })).sessionHosts;
        }
        const targets = {
            vmssId: "/subscriptions/8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f/resourceGroups/rg-avd-prod/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-prod",
            hostPoolId: "/subscriptions/8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f/resourceGroups/rg-avd-prod/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-prod",
            imageVersionId: "/subscriptions/8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f/resourceGroups/rg-avd-images/providers/Microsoft.Compute/galleries/g/images/d/versions/1.2.0",
        };
        const placement = { stack: "prod", location: "westeurope", resourceGroupName: "rg-avd-prod", names: sessionHostResourceNames("prod"), tags: {} };

        it("sessionHosts.rollout.window reaches the rollout as AVD_ROLLOUT_WINDOW, with the subnet and VM size for the preflight", () => {
            // The preflight's subnet and size go only to surge rollouts.
            const windowed = prodWith({ days: ["Sat", "Sun"], start: "22:00", end: "05:00", timeZone: "Europe/Berlin", waitMinutes: 60, agentUpdate: true });
            const sh = { ...windowed, rollout: { ...windowed.rollout, strategy: "surge" as const } };
            const env = rolloutEnvironment(sh, targets);
            assert.equal(env.AVD_ROLLOUT_WINDOW, JSON.stringify({ days: ["Sat", "Sun"], start: "22:00", end: "05:00", timeZone: "Europe/Berlin", waitMinutes: 60 }));
            assert.equal(env.AVD_SUBNET_ID, sh.subnetId);
            assert.equal(env.AVD_VM_SIZE, sh.vmSize);
            const inputs = readRolloutInputs(env);
            assert.deepEqual(inputs.window, { ...win({ waitMinutes: 60 }) });
            assert.equal(inputs.subnet?.name, sh.subnetId.split("/").pop());
        });

        it("agentUpdate: true schedules the host pool's agent updates in the window; without it the host pool has no agentUpdate", () => {
            const on = hostPoolArgs(placement, prodWith({ days: ["Sat"], start: "22:00", end: "05:00", timeZone: "Europe/Berlin", agentUpdate: true }), "2026-01-01T00:00:00Z");
            assert.deepEqual(on.agentUpdate, { type: "Scheduled", useSessionHostLocalTime: false, maintenanceWindowTimeZone: "W. Europe Standard Time", maintenanceWindows: [{ dayOfWeek: "Saturday", hour: 22 }] });
            const off = hostPoolArgs(placement, prodWith({ days: ["Sat"], start: "22:00", end: "05:00", timeZone: "Europe/Berlin" }), "2026-01-01T00:00:00Z");
            assert.equal(off.agentUpdate, undefined);
            assert.equal(rolloutEnvironment(prodWith(undefined), targets).AVD_ROLLOUT_WINDOW, undefined, "no window unless configured");
        });

        it("a bad window is one error naming the stack file and the key", () => {
            assert.throws(() => prodWith({ days: ["Sat"], start: "22:00", end: "05:00", timeZone: "CEST" }), /Pulumi\.prod\.yaml: avd-image-rings:sessionHosts\.rollout\.window\.timeZone must be an IANA time zone/);
        });
    });
});
