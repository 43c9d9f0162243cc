// tools/retention.ts against the fake Azure: deletes exactly the planned versions the live gallery
// confirms, reports a failed deletion without failing, stops at its deadline, survives lost answers.
import { strict as assert } from "node:assert";
import { ArmClient, ArmError } from "../tools/azure/arm";
import { VirtualClock } from "../tools/azure/clock";
import { ARM_DEFAULT_SCOPE, StaticTokenProvider } from "../tools/azure/credentials";
import { optionalString } from "../tools/azure/json";
import { main, readRetentionInputs, type MainOptions, type RetentionResult } from "../tools/retention";
import { formatRingPins } from "../src/lifecycle/retentionCommand";
import type { RingPin } from "../src/lifecycle/retention";
import { GalleryModule, type GalleryImageVersionSeed } from "./fakeAzure/gallery";
import { FAKE_SUBSCRIPTION_ID, seededRandom, startFakeAzure, type FakeAzure, type FakeAzureOptions } from "./fakeAzure/server";

const RG = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images`;
const DEFINITION = `${RG}/providers/Microsoft.Compute/galleries/avd_gallery/images/win11-m365`;
const TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret-arm-token";
const VERSIONS = ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0", "1.6.0", "1.7.0"];
const PINS: RingPin[] = [
    { ring: "test (this ring)", imageVersion: "1.7.0" },
    { ring: "org/avd-image-rings/pilot", imageVersion: "1.6.0", validatedImageVersion: "1.6.0" },
    { ring: "org/avd-image-rings/prod", imageVersion: "1.4.0", validatedImageVersion: "1.4.0" },
];

interface World {
    clock: VirtualClock;
    fake: FakeAzure;
    gallery: GalleryModule;
}

interface Run {
    code: number;
    stderr: string[];
    result?: RetentionResult;
}

async function world(options: Partial<FakeAzureOptions> = {}, seeds: Partial<Record<string, Partial<GalleryImageVersionSeed>>> = {}): Promise<World> {
    const clock = new VirtualClock();
    const gallery = new GalleryModule();
    // Three versions a page, so listing the definition follows nextLink.
    const fake = await startFakeAzure({ clock, acceptToken: TOKEN, pageSize: 3, ...options }, [gallery]);
    for (const v of VERSIONS) gallery.addVersion({ id: `${DEFINITION}/versions/${v}`, regions: ["westeurope", "northeurope"], ...seeds[v] });
    return { clock, fake, gallery };
}

function envFor(w: World, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    return {
        AZURE_RESOURCE_MANAGER_ENDPOINT: w.fake.url,
        AVD_ARM_ACCESS_TOKEN: TOKEN,
        AVD_IMAGE_DEFINITION_ID: DEFINITION,
        AVD_RETENTION_KEEP: "2",
        // keep 2 (1.7.0, 1.6.0), pins 1.7.0/1.6.0/1.4.0, rollback targets 1.6.0/1.5.0/1.3.0: 1.0.0-1.2.0 go.
        AVD_RETENTION_PLANNED: "1.0.0,1.1.0,1.2.0",
        AVD_RETENTION_PINS: formatRingPins(PINS),
        AVD_RETENTION_DEADLINE_MINUTES: "30",
        AVD_POLL_SECONDS: "10",
        ...extra,
    };
}

async function retention(w: World, extra: Record<string, string | undefined> = {}, options: MainOptions = {}): Promise<Run> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await main(envFor(w, extra), { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { clock: w.clock, ...options });
    const last = stdout[stdout.length - 1];
    return { code, stderr, result: last ? (JSON.parse(last) as RetentionResult) : undefined };
}

const remaining = (w: World) => VERSIONS.filter((v) => w.gallery.version(`${DEFINITION}/versions/${v}`) !== undefined);
const deletes = (w: World) => w.fake.requestsMatching("DELETE", /\/versions\//).map((r) => r.path.split("/").pop());

describe("gallery retention tool (tools/retention.ts)", () => {
    let w: World;
    afterEach(async () => {
        await w?.fake.stop();
    });

    it("deletes exactly the planned versions, oldest first, and prints each step and the result", async () => {
        w = await world();
        const run = await retention(w);

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.deepEqual(run.result, { imageDefinitionId: DEFINITION, planned: ["1.0.0", "1.1.0", "1.2.0"], deleted: ["1.0.0", "1.1.0", "1.2.0"], skipped: [], failed: [] });
        assert.deepEqual(remaining(w), ["1.3.0", "1.4.0", "1.5.0", "1.6.0", "1.7.0"]);
        assert.deepEqual(deletes(w), ["1.0.0", "1.1.0", "1.2.0"]);
        const text = run.stderr.join("\n");
        assert.match(text, /the plan deletes 1\.0\.0, 1\.1\.0, 1\.2\.0 \(keep 2\)/);
        assert.match(text, /deleted image version 1\.0\.0 \(/);
        assert.match(text, /done: deleted 1\.0\.0, 1\.1\.0, 1\.2\.0/);
        assert.deepEqual(w.fake.violations, []);
        assert.ok(!text.includes(TOKEN));
    });

    it("lists every page of the definition before deciding", async () => {
        w = await world();
        await retention(w);
        const pages = w.fake.requests.filter((r) => r.method === "GET" && /\/images\/win11-m365\/versions$/i.test(r.path));
        assert.equal(pages.length, Math.ceil(VERSIONS.length / 3), "followed nextLink through every page");
    });

    it("never deletes a version the plan did not list, even when the live gallery would allow it", async () => {
        w = await world();
        const run = await retention(w, { AVD_RETENTION_PLANNED: "1.1.0" });
        assert.equal(run.code, 0);
        assert.deepEqual(deletes(w), ["1.1.0"]);
        assert.deepEqual(remaining(w), ["1.0.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0", "1.6.0", "1.7.0"]);
        assert.match(run.stderr.join("\n"), /not in the plan, so left for the next deployment: 1\.0\.0, 1\.2\.0/);
    });

    it("keeps a planned version the live check protects (a ring pins it now), or that is gone, and says why", async () => {
        w = await world();
        w.gallery.remove(`${DEFINITION}/versions/1.0.0`);
        const pins = [...PINS, { ring: "org/avd-image-rings/prod hostPools.legacy", imageVersion: "1.2.0" }];
        const run = await retention(w, { AVD_RETENTION_PINS: formatRingPins(pins) });
        assert.equal(run.code, 0);
        assert.deepEqual(run.result?.deleted, []);
        assert.deepEqual(run.result?.skipped, [
            { version: "1.0.0", reason: "no longer in the gallery" },
            // 1.1.0 is now the rollback target of the pool that pins 1.2.0.
            { version: "1.1.0", reason: "rollback target of org/avd-image-rings/prod hostPools.legacy (next older than 1.2.0)" },
            { version: "1.2.0", reason: "pinned by org/avd-image-rings/prod hostPools.legacy" },
        ]);
        assert.deepEqual(deletes(w), []);
    });

    it("skips a version whose end of life blocks deletion, with its date, and deletes the one whose end of life has passed", async () => {
        w = await world({}, {
            "1.0.0": { blockDeletionBeforeEndOfLife: true, endOfLifeDate: "2099-01-31T00:00:00Z" },
            "1.1.0": { blockDeletionBeforeEndOfLife: true, endOfLifeDate: "1999-01-31T00:00:00Z" },
        });
        const run = await retention(w);
        assert.equal(run.code, 0);
        assert.deepEqual(run.result?.skipped, [{ version: "1.0.0", reason: "blockDeletionBeforeEndOfLife until its end of life 2099-01-31T00:00:00Z" }]);
        assert.deepEqual(run.result?.deleted, ["1.1.0", "1.2.0"]);
        assert.deepEqual(deletes(w), ["1.1.0", "1.2.0"], "no DELETE is sent for the blocked version");
    });

    it("re-reads each version before deleting it: one that started replicating again since the listing is kept", async () => {
        w = await world();
        w.gallery.update(`${DEFINITION}/versions/1.1.0`, { replication: [{ region: "westeurope", state: "Completed", progress: 100 }, { region: "northeurope", state: "Replicating", progress: 40 }] });
        const run = await retention(w);
        assert.equal(run.code, 0);
        assert.deepEqual(run.result?.skipped, [{ version: "1.1.0", reason: "replication InProgress" }]);
        assert.deepEqual(run.result?.deleted, ["1.0.0", "1.2.0"]);
    });

    it("reports a deletion Azure refuses (409), one that fails (operation Failed) and one that keeps failing (503), and still exits 0 with the others deleted", async () => {
        w = await world();
        w.fake.injectFailure({ method: "DELETE", path: /\/versions\/1\.0\.0$/, status: 409, code: "OperationNotAllowed", message: "Gallery image version '1.0.0' cannot be deleted before its end of life date." });
        w.gallery.failingDeletes.add("1.1.0");
        w.fake.injectFailure({ method: "DELETE", path: /\/versions\/1\.2\.0$/, status: 503, count: 100, code: "ServiceUnavailable" });
        const run = await retention(w, {}, { retry: { maxAttempts: 2 } });

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.deepEqual(run.result?.deleted, []);
        assert.deepEqual(run.result?.failed.map((f) => f.version), ["1.0.0", "1.1.0", "1.2.0"]);
        assert.match(run.result!.failed[0].error, /409 .*OperationNotAllowed|OperationNotAllowed.*409|cannot be deleted before its end of life/);
        assert.match(run.result!.failed[1].error, /InternalOperationError|failed in region/);
        assert.match(run.result!.failed[2].error, /ServiceUnavailable|503/);
        const text = run.stderr.join("\n");
        assert.match(text, /Warning: could not delete image version 1\.0\.0: .* It stays in the gallery; the next build's retention tries again\./);
        assert.match(text, /done: deleted nothing, 3 failed \(1\.0\.0, 1\.1\.0, 1\.2\.0\)/);
        assert.deepEqual(remaining(w), VERSIONS);
    });

    it("a failed deletion does not stop the next one", async () => {
        w = await world();
        w.gallery.failingDeletes.add("1.0.0");
        const run = await retention(w);
        assert.equal(run.code, 0);
        assert.deepEqual(run.result?.failed.map((f) => f.version), ["1.0.0"]);
        assert.deepEqual(run.result?.deleted, ["1.1.0", "1.2.0"]);
    });

    it("stops at its own deadline: a deletion that never finishes is reported, the rest are not attempted, and it exits 0", async () => {
        w = await world();
        w.gallery.hangingDeletes.add("1.0.0");
        const start = w.clock.now();
        const run = await retention(w, { AVD_RETENTION_DEADLINE_MINUTES: "5" });

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.deepEqual(run.result?.failed.map((f) => f.version), ["1.0.0"]);
        assert.match(run.result!.failed[0].error, /did not finish within 5m/);
        assert.deepEqual(run.result?.skipped, [
            { version: "1.1.0", reason: "not attempted: the retention deadline (5 minutes) passed" },
            { version: "1.2.0", reason: "not attempted: the retention deadline (5 minutes) passed" },
        ]);
        assert.ok(w.clock.now() - start <= 5 * 60_000 + 1000, `took ${w.clock.now() - start} ms of a 5-minute deadline`);
        assert.deepEqual(deletes(w), ["1.0.0"]);
    });

    it("reports a gallery it cannot list as a warning, deletes nothing and exits 0", async () => {
        w = await world();
        w.fake.injectFailure({ method: "GET", path: /\/images\/win11-m365\/versions$/, status: 403, code: "AuthorizationFailed", message: "The client does not have authorization to perform action 'Microsoft.Compute/galleries/images/versions/read'." });
        const run = await retention(w);
        assert.equal(run.code, 0);
        assert.match(run.result!.error!, /AuthorizationFailed|authorization/);
        assert.deepEqual(run.result?.deleted, []);
        assert.match(run.stderr.join("\n"), /Warning: gallery retention could not list the versions of win11-m365, so it deleted nothing/);
        assert.deepEqual(deletes(w), []);
    });

    it("sends nothing when the plan deletes nothing", async () => {
        w = await world();
        const run = await retention(w, { AVD_RETENTION_PLANNED: "none" });
        assert.equal(run.code, 0);
        assert.deepEqual(run.result?.deleted, []);
        assert.equal(w.fake.requests.length, 0);
    });

    for (const seed of [1, 2, 3, 4, 5, 6]) {
        it(`deletes exactly the planned versions when 30% of responses are lost (seed ${seed})`, async () => {
            w = await world({ lostResponses: { rate: 0.3, random: seededRandom(seed) } });
            const run = await retention(w);
            assert.equal(run.code, 0, run.stderr.join("\n"));
            assert.deepEqual(remaining(w), ["1.3.0", "1.4.0", "1.5.0", "1.6.0", "1.7.0"], run.stderr.join("\n"));
            assert.deepEqual(run.result?.deleted, ["1.0.0", "1.1.0", "1.2.0"], run.stderr.join("\n"));
            assert.ok(deletes(w).every((v) => ["1.0.0", "1.1.0", "1.2.0"].includes(v!)), "no DELETE outside the plan");
            assert.ok(w.fake.requests.some((r) => r.lost), "some responses were lost");
        });
    }

    it("stops on request before the next deletion and exits 1, saying what is left", async () => {
        w = await world();
        const stop = new AbortController();
        const stopAtFirstDelete: typeof fetch = async (input, init) => {
            const response = await fetch(input, init);
            if (init?.method === "DELETE") stop.abort("SIGTERM");
            return response;
        };
        const run = await retention(w, {}, { signal: stop.signal, fetch: stopAtFirstDelete });
        assert.equal(run.code, 1);
        assert.match(run.stderr.join("\n"), /stopped on request/);
        assert.match(run.stderr.join("\n"), /the next build's retention deletes them/);
        assert.deepEqual(deletes(w), ["1.0.0"], "no deletion starts after the stop");
        assert.ok(w.gallery.version(`${DEFINITION}/versions/1.1.0`) && w.gallery.version(`${DEFINITION}/versions/1.2.0`));
    });

    it("the fake refuses to delete a version blocked until its end of life with 409, as the safety profile documents, and shows the block on GET", async () => {
        w = await world({}, { "1.0.0": { blockDeletionBeforeEndOfLife: true, endOfLifeDate: "2099-01-31T00:00:00Z" } });
        const arm = new ArmClient({ endpoint: w.fake.url, clock: w.clock, tokenProvider: new StaticTokenProvider(TOKEN, ARM_DEFAULT_SCOPE) });
        const path = `${DEFINITION}/versions/1.0.0`;
        assert.equal(optionalString(await arm.get(path, { apiVersion: "2024-03-03" }), "properties.publishingProfile.endOfLifeDate"), "2099-01-31T00:00:00Z");
        await assert.rejects(arm.delete(path, { apiVersion: "2024-03-03" }), (e: unknown) => e instanceof ArmError && e.status === 409);
        assert.ok(w.gallery.version(path), "the version stays");
    });

    describe("inputs", () => {
        const good = () => envFor({ fake: { url: "http://127.0.0.1:1" } } as World);
        for (const [name, value, message] of [
            ["AVD_IMAGE_DEFINITION_ID", `${DEFINITION}/versions/1.0.0`, /AVD_IMAGE_DEFINITION_ID: .* is not a Microsoft\.Compute\/galleries\/images resource id/],
            ["AVD_RETENTION_KEEP", "0", /AVD_RETENTION_KEEP must be a whole number from 1 to 100, got "0"/],
            ["AVD_RETENTION_PLANNED", "1.0", /AVD_RETENTION_PLANNED must be "none" or MAJOR\.MINOR\.PATCH versions separated by commas, got "1\.0"/],
            ["AVD_RETENTION_PLANNED", undefined, /AVD_RETENTION_PLANNED is not set/],
            ["AVD_RETENTION_PINS", "[{\"imageVersion\":\"1.0.0\"}]", /AVD_RETENTION_PINS item 0 has no "ring" name/],
            ["AVD_RETENTION_DEADLINE_MINUTES", "721", /AVD_RETENTION_DEADLINE_MINUTES must be a whole number of minutes from 5 to 720, got "721"/],
        ] as const) {
            it(`refuses ${name}=${JSON.stringify(value)} naming the variable`, () => {
                assert.throws(() => readRetentionInputs({ ...good(), [name]: value }), message);
            });
        }
    });
});
