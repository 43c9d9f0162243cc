// The contract between the config and the deploy-time tools (src/tools/environment.ts): a seeded
// sweep of valid ring configs, extremes included, goes through parseRingConfig and the components'
// environment builders, and every tool must accept the environment it is given; a value a tool
// refuses is refused by the config parser first.
import { strict as assert } from "node:assert";
import { onlyPool } from "./fixtures/fleet";
import { parseRingConfig } from "../src/config/parse";
import { ConfigError } from "../src/config/reader";
import type { RingConfig } from "../src/config/types";
import { healthGateEnvironment, rolloutEnvironment } from "../src/rollout/commands";
import { gateTimeoutMinutes } from "../src/rollout/healthGate";
import { AVD_ENV, LIMITS } from "../src/tools/environment";
import { readInputs } from "../tools/buildImage";
import { readRetentionInputs } from "../tools/retention";
import { parseRetention } from "../src/config/retention";
import { Reader } from "../src/config/reader";
import { retentionEnvironment } from "../src/lifecycle/retentionCommand";
import { readGateInputs, readRolloutInputs } from "../tools/rollout/env";
import { seededRandom } from "./fakeAzure/server";

const SUB = "8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f";
const TARGETS = {
    vmssId: `/subscriptions/${SUB}/resourceGroups/rg-avd-prod/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-prod`,
    hostPoolId: `/subscriptions/${SUB}/resourceGroups/rg-avd-prod/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-prod`,
    imageVersionId: `/subscriptions/${SUB}/resourceGroups/rg-avd-images/providers/Microsoft.Compute/galleries/g/images/d/versions/1.2.0`,
};
const SUBNET = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-avd/subnets/snet-avd`;

type Rng = () => number;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
/** A value of the range, with its ends drawn more often than the middle. */
function inRange(rng: Rng, r: { min: number; max: number }): number {
    const roll = rng();
    if (roll < 0.2) return r.min;
    if (roll < 0.4) return r.max;
    return r.min + Math.floor(rng() * (r.max - r.min + 1));
}
const maybe = (rng: Rng, value: unknown): unknown => (rng() < 0.5 ? value : undefined);

function durationText(rng: Rng): string {
    const minutes = pick(rng, [0, 1, 5, 15, 60, 90]);
    return pick(rng, [`PT${minutes}M`, `PT${minutes * 60}S`, minutes === 0 ? "PT0S" : `PT${minutes}M`, minutes >= 60 && minutes % 60 === 0 ? `PT${minutes / 60}H` : `pt${minutes}m`]);
}

/** A promoted ring's raw values: every session-host setting drawn from its whole range. */
function randomRing(rng: Rng): Record<string, unknown> {
    const unhealthy = inRange(rng, LIMITS.maxUnhealthyInstancePercent);
    const batch = Math.min(unhealthy, inRange(rng, LIMITS.maxBatchInstancePercent));
    const body = maybe(rng, pick(rng, ["Please save your work.", "Line one\nLine two", "x"]));
    const drain: Record<string, unknown> = {
        timeoutMinutes: inRange(rng, LIMITS.drainTimeoutMinutes),
        messageTitle: maybe(rng, "Maintenance"),
        messageBody: body,
        forceLogoffAfterTimeout: body !== undefined && rng() < 0.5,
        logOffDisconnectedSessions: maybe(rng, rng() < 0.5),
    };
    const strip = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    // GPU pools on a quarter of the draws: the gate must get their vendor, and only theirs.
    const [vmSize, gpu] = pick<[string, Record<string, string> | undefined]>(rng, [
        ["Standard_D4s_v5", undefined],
        ["Standard_D4s_v5", undefined],
        ["Standard_D4s_v5", undefined],
        ["Standard_NV12ads_A10_v5", { driver: pick(rng, ["nvidia", "image"]) }],
        ["Standard_NV8ads_V710_v5", { driver: pick(rng, ["amd", "image"]) }],
        ["Standard_NC8as_T4_v3", { driver: "nvidia" }],
    ]);
    return {
        imageVersion: "1.2.0",
        promoteFrom: "contoso/avd-image-rings/pilot",
        location: "westeurope",
        sessionHosts: strip({
            vmSize,
            gpu,
            capacity: pick(rng, [1, 2, 10, 99, 500, 1000]),
            computerNamePrefix: "avdprd",
            subnetId: SUBNET,
            osDiskSizeGb: 128,
            upgradeMode: pick(rng, ["Manual", "Rolling", "Automatic"]),
            rollingUpgrade: {
                maxBatchInstancePercent: batch,
                maxUnhealthyInstancePercent: unhealthy,
                maxUnhealthyUpgradedInstancePercent: inRange(rng, LIMITS.maxUnhealthyUpgradedInstancePercent),
                pauseTimeBetweenBatches: durationText(rng),
            },
            drain: strip(drain),
            rollout: rng() < 0.5 ? rolloutBlock(rng) : undefined,
            healthGate: strip({
                maxLoginSeconds: inRange(rng, LIMITS.maxLoginSeconds),
                loginProbe: rng() < 0.5,
                maxCpuPercent: inRange(rng, LIMITS.maxCpuPercent),
                minFreeMemoryPercent: inRange(rng, LIMITS.minFreeMemoryPercent),
                checkFslogix: rng() < 0.5,
                probeTimeoutMinutes: maybe(rng, inRange(rng, LIMITS.probeTimeoutMinutes)),
            }),
        }),
    };
}

/** A valid rollout block: a surge is always paced by host, a reimage by host or in batches. */
function rolloutBlock(rng: Rng): Record<string, unknown> {
    const strategy = maybe(rng, pick(rng, ["reimage", "surge"]));
    const pacing = strategy === "surge" ? maybe(rng, "host") : maybe(rng, pick(rng, ["host", "batch"]));
    return Object.fromEntries(Object.entries({ maxRunMinutes: inRange(rng, LIMITS.maxRunMinutes), strategy, pacing }).filter(([, v]) => v !== undefined));
}

function parse(values: Record<string, unknown>): RingConfig | ConfigError {
    try {
        return parseRingConfig({ stack: "prod", values, secret: () => undefined });
    } catch (e) {
        if (e instanceof ConfigError) return e;
        throw e;
    }
}

describe("tool environment contract", () => {
    it("a seeded sweep of valid rings: every tool accepts the environment the program gives it", () => {
        let parsed = 0;
        for (let seed = 1; seed <= 1500; seed++) {
            const values = randomRing(seededRandom(seed));
            const ring = parse(values);
            if (ring instanceof ConfigError) {
                // The only refusals a valid-looking draw may meet: a rolling upgrade longer than the gate can
                // wait, and a surge step that would pass the scale set's 1,000 instances.
                assert.match(ring.message, /longer than the health gate can wait|a scale set holds at most 1000 instances/, `seed ${seed}: ${ring.message}`);
                continue;
            }
            parsed++;
            const rollout = readRolloutInputs(rolloutEnvironment(onlyPool(ring).sessionHosts, TARGETS));
            const sh = onlyPool(ring).sessionHosts;
            assert.equal(rollout.policy.maxBatchInstancePercent, sh.rollingUpgrade.maxBatchInstancePercent, `seed ${seed}`);
            assert.equal(rollout.drainTimeoutMs, sh.drain.timeoutMinutes * 60_000, `seed ${seed}`);
            assert.equal(rollout.maxRunMs, sh.rollout.maxRunMinutes === undefined ? undefined : sh.rollout.maxRunMinutes * 60_000, `seed ${seed}`);
            assert.equal(rollout.logOffDisconnectedSessions, sh.drain.logOffDisconnectedSessions, `seed ${seed}`);
            assert.equal(rollout.message?.body, sh.drain.messageBody, `seed ${seed}`);
            assert.deepEqual(rollout.strategy, sh.rollout.strategy === "surge" ? { kind: "surge", capacity: sh.capacity } : { kind: "reimage", pacing: sh.rollout.pacing }, `seed ${seed}`);

            const gate = readGateInputs(healthGateEnvironment(onlyPool(ring).sessionHosts, TARGETS));
            assert.equal(gate.probeTimeoutMs, sh.healthGate.probeTimeoutMinutes * 60_000, `seed ${seed}`);
            assert.equal(gate.gpuVendor, sh.gpu?.vendor, `seed ${seed}: the gate checks the pool's GPU vendor, and none without a GPU`);
            assert.equal(gate.timeoutMs, gateTimeoutMinutes(onlyPool(ring).sessionHosts) * 60_000, `seed ${seed}`);
            assert.ok(gate.timeoutMs >= gate.probeTimeoutMs + 5 * 60_000, `seed ${seed}: the gate has room for one probe round`);
            assert.ok(gateTimeoutMinutes(onlyPool(ring).sessionHosts) <= LIMITS.gateTimeoutMinutes.max, `seed ${seed}`);
        }
        assert.ok(parsed > 1200, `most draws are valid rings (${parsed})`);
    });

    it("a surge that would pass the scale set's 1,000 instances is refused by the config and by the tool alike", () => {
        const values = randomRing(seededRandom(3));
        values.sessionHosts = { ...(values.sessionHosts as Record<string, unknown>), upgradeMode: "Manual", capacity: 1000, rollout: { strategy: "surge" }, rollingUpgrade: { maxBatchInstancePercent: 10, maxUnhealthyInstancePercent: 10 } };
        const refused = parse(values);
        assert.ok(refused instanceof ConfigError);
        assert.match(refused.message, /sessionHosts\.rollout\.strategy is surge, and a surge adds up to 100 host\(s\) above the capacity of 1000, but a scale set holds at most 1000 instances; lower capacity to 900 or less/);
        const fits = parse({ ...values, sessionHosts: { ...(values.sessionHosts as Record<string, unknown>), capacity: 900 } });
        assert.ok(!(fits instanceof ConfigError), String(fits));
        const env = rolloutEnvironment(onlyPool(fits as RingConfig).sessionHosts, TARGETS);
        assert.throws(() => readRolloutInputs({ ...env, AVD_CAPACITY: "1000" }), /AVD_ROLLOUT_STRATEGY=surge with AVD_CAPACITY=1000: a surge adds up to 100 host\(s\)/);
    });

    it("the build trigger accepts every build timeout the config accepts", () => {
        const base = {
            AVD_IMAGE_TEMPLATE_ID: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.VirtualMachineImages/imageTemplates/it-x`,
            AVD_GALLERY_IMAGE_VERSION_ID: TARGETS.imageVersionId,
            AVD_CONTENT_HASH: "a".repeat(64),
        };
        for (let m = LIMITS.buildTimeoutMinutes.min; m <= LIMITS.buildTimeoutMinutes.max; m++) {
            assert.ok(readInputs({ ...base, AVD_BUILD_TIMEOUT_MINUTES: String(m) }).timeoutMinutes > 0, String(m));
        }
        assert.throws(() => readInputs({ ...base, AVD_BUILD_TIMEOUT_MINUTES: String(LIMITS.buildTimeoutMinutes.max + 1) }), /from 0 to 960/);
    });

    it("gallery retention accepts every keep and deadline the config accepts, and refuses the values just outside as the config does", () => {
        const definition = `/subscriptions/${SUB}/resourceGroups/rg-avd-images/providers/Microsoft.Compute/galleries/g/images/d`;
        const config = (retention: Record<string, unknown>) => parseRetention(Reader.root("Pulumi.test.yaml", "avd-image-rings", { retention }), { stack: "test" });
        const rng = seededRandom(13);
        for (let i = 0; i < 300; i++) {
            const keep = inRange(rng, LIMITS.retentionKeep);
            const deadlineMinutes = inRange(rng, LIMITS.retentionDeadlineMinutes);
            const parsed = config({ keep, deadlineMinutes, protectStacks: [] })!;
            const pins = [{ ring: "contoso/avd-image-rings/prod hostPools.default", imageVersion: "1.2.0", validatedImageVersion: "1.1.0" }];
            const read = readRetentionInputs(retentionEnvironment(parsed, { imageDefinitionId: definition, plannedDeletions: ["1.0.0", "1.10.0"], pins }));
            assert.deepEqual([read.keep, read.deadlineMs, read.planned, read.pins], [keep, deadlineMinutes * 60_000, ["1.0.0", "1.10.0"], pins]);
        }
        const env = retentionEnvironment(config({ protectStacks: [] })!, { imageDefinitionId: definition, plannedDeletions: [], pins: [] });
        for (const [limit, key, variable] of [
            ["retentionKeep", "keep", AVD_ENV.retentionKeep],
            ["retentionDeadlineMinutes", "deadlineMinutes", AVD_ENV.retentionDeadlineMinutes],
        ] as const) {
            for (const outside of [LIMITS[limit].min - 1, LIMITS[limit].max + 1]) {
                assert.throws(() => config({ [key]: outside, protectStacks: [] }), new RegExp(`avd-image-rings:retention\\.${key} must be between`));
                assert.throws(() => readRetentionInputs({ ...env, [variable.name]: String(outside) }), new RegExp(`${variable.name} must be a whole number`));
            }
        }
    });

    describe("a value just outside a range is refused by the config and by the tool alike", () => {
        const shipped = randomRing(seededRandom(7));
        const cases: Array<[string, keyof typeof LIMITS, { name: string }, "rollout" | "gate"]> = [
            ["rollingUpgrade.maxUnhealthyUpgradedInstancePercent", "maxUnhealthyUpgradedInstancePercent", AVD_ENV.maxUnhealthyUpgradedPercent, "rollout"],
            ["drain.timeoutMinutes", "drainTimeoutMinutes", AVD_ENV.drainTimeoutMinutes, "rollout"],
            ["rollout.maxRunMinutes", "maxRunMinutes", AVD_ENV.maxRunMinutes, "rollout"],
            ["healthGate.maxLoginSeconds", "maxLoginSeconds", AVD_ENV.maxLoginSeconds, "gate"],
            ["healthGate.maxCpuPercent", "maxCpuPercent", AVD_ENV.maxCpuPercent, "gate"],
            ["healthGate.minFreeMemoryPercent", "minFreeMemoryPercent", AVD_ENV.minFreeMemoryPercent, "gate"],
            ["healthGate.probeTimeoutMinutes", "probeTimeoutMinutes", AVD_ENV.probeTimeoutMinutes, "gate"],
        ];
        for (const [path, limit, variable, tool] of cases) {
            it(`${path} / ${variable.name}`, () => {
                const ring = parse(shipped);
                assert.ok(!(ring instanceof ConfigError), String(ring));
                const env = tool === "rollout" ? rolloutEnvironment(onlyPool(ring).sessionHosts, TARGETS) : healthGateEnvironment(onlyPool(ring).sessionHosts, TARGETS);
                for (const outside of [LIMITS[limit].min - 1, LIMITS[limit].max + 1]) {
                    const values = JSON.parse(JSON.stringify(shipped)) as { sessionHosts: Record<string, Record<string, unknown>> };
                    const [block, key] = path.split(".");
                    values.sessionHosts[block] = { ...(values.sessionHosts[block] ?? {}), [key]: outside };
                    const refused = parse(values);
                    assert.ok(refused instanceof ConfigError, `${path} = ${outside} is refused by the config`);
                    assert.match(refused.message, new RegExp(`^Pulumi\\.prod\\.yaml: avd-image-rings:sessionHosts\\.${block}\\.${key} must be between`));
                    const read = tool === "rollout" ? readRolloutInputs : readGateInputs;
                    assert.throws(() => read({ ...env, [variable.name]: String(outside) }), new RegExp(`${variable.name} must be a whole number`), `${variable.name} = ${outside} is refused by the tool`);
                }
            });
        }
    });

    it("refuses a rolling upgrade longer than the gate's deadline, naming the key", () => {
        const values = randomRing(seededRandom(3)) as { sessionHosts: Record<string, unknown> };
        values.sessionHosts = { ...values.sessionHosts, upgradeMode: "Rolling", capacity: 1000, rollingUpgrade: { maxBatchInstancePercent: 5, maxUnhealthyInstancePercent: 5, pauseTimeBetweenBatches: "PT10H" } };
        const refused = parse(values);
        assert.ok(refused instanceof ConfigError);
        assert.match(refused.message, /^Pulumi\.prod\.yaml: avd-image-rings:sessionHosts\.rollingUpgrade\.pauseTimeBetweenBatches \(PT10H\) with capacity 1000 .* longer than the health gate can wait \(10080 minutes/);
    });

    it("a Manual ring with the longest probe round still leaves the gate room for it", () => {
        const values = randomRing(seededRandom(5)) as { sessionHosts: Record<string, unknown> };
        values.sessionHosts = { ...values.sessionHosts, upgradeMode: "Manual", healthGate: { probeTimeoutMinutes: 90 } };
        const ring = parse(values);
        assert.ok(!(ring instanceof ConfigError), String(ring));
        assert.equal(gateTimeoutMinutes(onlyPool(ring).sessionHosts), 110, "the 90 min probe round plus 20 min for hosts to report Available");
    });

    it("refuses a control character in a message before it becomes an environment variable", () => {
        const values = randomRing(seededRandom(9)) as { sessionHosts: Record<string, unknown> };
        values.sessionHosts = { ...values.sessionHosts, drain: { messageBody: "save your work\u0000now" } };
        const refused = parse(values);
        assert.ok(refused instanceof ConfigError);
        assert.match(refused.message, /sessionHosts\.drain\.messageBody holds the control character U\+0000/);
        assert.throws(() => readRolloutInputs({ ...rolloutEnvironment(onlyPool(parse(randomRing(seededRandom(9))) as RingConfig).sessionHosts, TARGETS), AVD_DRAIN_MESSAGE_BODY: "a\u0007b" }), /AVD_DRAIN_MESSAGE_BODY holds the control character U\+0007/);
    });
});
