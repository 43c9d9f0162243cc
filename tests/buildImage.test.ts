import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { ArmClient } from "../tools/azure/arm";
import { VirtualClock } from "../tools/azure/clock";
import { ARM_DEFAULT_SCOPE, StaticTokenProvider, type TokenProvider } from "../tools/azure/credentials";
import { optionalString } from "../tools/azure/json";
import { main, type BuildResult, type MainOptions } from "../tools/buildImage";
import { GalleryModule } from "./fakeAzure/gallery";
import { DEFAULT_PLATFORM_IMAGE_VERSION, ImageBuilderModule } from "./fakeAzure/imageBuilder";
import { FAKE_SUBSCRIPTION_ID, seededRandom, startFakeAzure, type FakeAzure, type FakeAzureOptions } from "./fakeAzure/server";

const RG = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images`;
const TEMPLATE = `${RG}/providers/Microsoft.VirtualMachineImages/imageTemplates/avd-golden-1-2-0`;
const DEFINITION = `${RG}/providers/Microsoft.Compute/galleries/avd_gallery/images/win11-m365`;
const VERSION_ID = `${DEFINITION}/versions/1.2.0`;
const HASH = createHash("sha256").update("image content for 1.2.0").digest("hex");
const OTHER_HASH = createHash("sha256").update("image content built earlier").digest("hex");
const TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret-arm-token";

interface World {
    clock: VirtualClock;
    fake: FakeAzure;
    gallery: GalleryModule;
    aib: ImageBuilderModule;
}

interface Run {
    code: number;
    stdout: string[];
    stderr: string[];
    result?: BuildResult;
}

async function world(options: Partial<FakeAzureOptions> = {}): Promise<World> {
    const clock = new VirtualClock();
    const gallery = new GalleryModule();
    const aib = new ImageBuilderModule({ gallery });
    const fake = await startFakeAzure({ clock, acceptToken: TOKEN, ...options }, [gallery, aib]);
    aib.addTemplate({ id: TEMPLATE, galleryImageVersionId: VERSION_ID, artifactTags: { ContentHash: HASH, BuildRing: "test" }, targetRegions: ["westeurope", "northeurope"] });
    for (const v of ["1.0.0", "1.1.0", "1.10.0"]) gallery.addVersion({ id: `${DEFINITION}/versions/${v}`, tags: { ContentHash: OTHER_HASH } });
    gallery.addVersion({ id: `${DEFINITION}/versions/0.9.0`, provisioningState: "Failed" });
    return { clock, fake, gallery, aib };
}

function envFor(w: World, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    return {
        AZURE_RESOURCE_MANAGER_ENDPOINT: w.fake.url,
        AVD_ARM_ACCESS_TOKEN: TOKEN,
        AVD_IMAGE_TEMPLATE_ID: TEMPLATE,
        AVD_GALLERY_IMAGE_VERSION_ID: VERSION_ID,
        AVD_CONTENT_HASH: HASH,
        AVD_BUILD_TIMEOUT_MINUTES: "120",
        AVD_POLL_SECONDS: "60",
        ...extra,
    };
}

async function trigger(w: World, extra: Record<string, string | undefined> = {}, options: MainOptions = {}): Promise<Run> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await main(envFor(w, extra), { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { clock: w.clock, ...options });
    const last = stdout[stdout.length - 1];
    return { code, stdout, stderr, result: code === 0 && last ? (JSON.parse(last) as BuildResult) : undefined };
}

function runPosts(w: World) {
    return w.fake.requestsMatching("POST", /\/imageTemplates\/[^/]+\/run$/);
}

function assertNoSecretsOrStacks(run: Run): void {
    const all = [...run.stdout, ...run.stderr].join("\n");
    assert.ok(!all.includes(TOKEN), "the access token must never be printed");
    assert.ok(!/\n\s+at .+\(.+:\d+:\d+\)/.test(all), "no stack traces");
}

describe("build trigger (tools/buildImage.ts)", () => {
    let w: World;
    afterEach(async () => {
        await w?.fake.stop();
    });

    it("builds, reports every state change with elapsed time, and prints the result as the last stdout line", async () => {
        w = await world();
        const run = await trigger(w);

        assert.equal(run.code, 0, run.stderr.join("\n"));
        const { releaseNotes, ...result } = run.result ?? ({} as BuildResult);
        assert.deepEqual(result, {
            imageVersion: "1.2.0",
            imageVersionId: VERSION_ID,
            runState: "Succeeded",
            reusedExistingVersion: false,
            publishedImageVersions: ["1.0.0", "1.1.0", "1.2.0", "1.10.0"],
            baseImageExactVersion: DEFAULT_PLATFORM_IMAGE_VERSION,
        });
        assert.equal(releaseNotes.imageVersion, "1.2.0");
        const progress = run.stderr.join("\n");
        for (const sub of ["Building", "Customizing", "Optimizing", "Validating", "Distributing"]) {
            assert.match(progress, new RegExp(`Running / ${sub}`), `progress shows ${sub}`);
        }
        assert.match(progress, /replicating InProgress: West Europe \d+%, North Europe \d+%/);
        assert.match(progress, /image version 1\.2\.0 published/);
        assert.ok(run.stderr.every((l) => /^\[(\d+h)?(\d+m)?\d+s\] /.test(l)), "every progress line starts with the elapsed time");
        assert.equal(runPosts(w).length, 1);
        assert.equal(w.gallery.version(VERSION_ID)?.tags.ContentHash, HASH, "the version carries the template's artifact tags");
        const arm = new ArmClient({ endpoint: w.fake.url, clock: w.clock, tokenProvider: new StaticTokenProvider(TOKEN, ARM_DEFAULT_SCOPE) });
        const outputs = await arm.list(`${TEMPLATE}/runOutputs`, { apiVersion: "2024-02-01" });
        assert.deepEqual(outputs.map((o) => optionalString(o, "properties.artifactId")), [VERSION_ID], "the run output names the published version");
        assert.deepEqual(w.fake.violations, []);
        assertNoSecretsOrStacks(run);
    });

    it("fails with the run state, sub-state, Image Builder's message and the last 40 lines of customization.log", async () => {
        w = await world();
        const logLines = Array.from({ length: 60 }, (_, i) => `PACKER OUT azure-arm: [Install-Apps] step ${i + 1} of 60`);
        logLines.push("PACKER ERR azure-arm: Error: Customization step 'Install-Apps' failed with exit code 1");
        w.aib.scriptNextRun(TEMPLATE, {
            failAt: "Customizing",
            logLines,
            provisioningError: { provisioningErrorCode: "Other", message: "Customizer 'Install-Apps' failed" },
        });
        const run = await trigger(w);

        assert.equal(run.code, 1);
        assert.equal(run.result, undefined);
        const err = run.stderr.join("\n");
        assert.match(err, /Error: Image build for version 1\.2\.0 \(template avd-golden-1-2-0\) ended Failed/);
        assert.match(err, /runState Failed, runSubState Customizing/);
        assert.match(err, /Packer build command has failed/);
        assert.match(err, /provisioningError Other: Customizer 'Install-Apps' failed/);
        assert.match(err, /Last 40 lines of customization\.log \(storage account \w+, packerlogs\/[0-9a-f-]+\/customization\.log\)/);
        assert.match(err, /step 22 of 60/);
        assert.doesNotMatch(err, /step 21 of 60/, "only the last 40 lines");
        assert.match(err, /failed with exit code 1$/m);
        const blobReads = w.fake.requestsMatching("GET", /^\/blob\//);
        assert.ok(blobReads.length > 0);
        assert.ok(blobReads.every((r) => r.auth === "sas"), "the log is read with a SAS, never with the ARM token");
        assert.deepEqual(w.fake.violations, []);
        assertNoSecretsOrStacks(run);
    });

    it("reads the log with an Azure Storage token when the staging account refuses shared keys", async () => {
        w = await world();
        w.aib.scriptNextRun(TEMPLATE, { failAt: "Building", disallowSharedKeyAccess: true, logLines: ["PACKER ERR azure-arm: Error: Insufficient disk space during customization"] });
        const tokens: TokenProvider = { supports: () => true, getToken: async (scope) => (scope.includes("storage") ? "storage-token" : TOKEN) };
        const run = await trigger(w, { AVD_ARM_ACCESS_TOKEN: undefined }, { tokenProvider: tokens });

        assert.equal(run.code, 1);
        assert.match(run.stderr.join("\n"), /Insufficient disk space during customization/);
        assert.ok(w.fake.requestsMatching("GET", /^\/blob\/[^/]+\/packerlogs\/.+customization\.log$/).every((r) => r.auth === "bearer"));
    });

    it("still reports the failure, and where the log is, when the log cannot be read", async () => {
        w = await world();
        w.aib.scriptNextRun(TEMPLATE, { failAt: "Building", disallowSharedKeyAccess: true });
        const run = await trigger(w);

        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.match(err, /runState Failed, runSubState Building/);
        assert.match(err, /customization\.log could not be read \(storage account \w+ refuses shared-key \(SAS\) access.*\); download it from container packerlogs/);
        assertNoSecretsOrStacks(run);
    });

    it("cancels the run when it outlives the build timeout plus the grace margin, then reports", async () => {
        w = await world();
        w.aib.scriptNextRun(TEMPLATE, { hang: true, failAt: "Customizing", logLines: ["PACKER OUT azure-arm: Installing Windows updates (312 of 480)"] });
        const start = w.clock.now();
        const run = await trigger(w, { AVD_BUILD_TIMEOUT_MINUTES: "30" });

        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.match(err, /did not finish within 45 minutes \(build timeout 30 \+ 15 minutes grace\); the run was cancelled/);
        assert.match(err, /runState Canceled, runSubState Customizing/);
        assert.equal(w.fake.requestsMatching("POST", /\/cancel$/).length, 1);
        assert.equal(w.aib.template(TEMPLATE).runState, "Canceled");
        const waited = w.clock.now() - start;
        assert.ok(waited >= 45 * 60_000 && waited < 50 * 60_000, `gave up after ${waited / 60_000} minutes`);
        assert.deepEqual(w.fake.violations, []);
    });

    it("reports a PartiallySucceeded run as a failure", async () => {
        w = await world();
        w.aib.scriptNextRun(TEMPLATE, { partial: true });
        const run = await trigger(w);

        assert.equal(run.code, 1);
        assert.match(run.stderr.join("\n"), /ended PartiallySucceeded.*runState PartiallySucceeded, runSubState Distributing/s);
        assert.equal(w.gallery.version(VERSION_ID)?.provisioningState, "Failed");
    });

    it("keeps going through throttling and transient errors without retrying early", async () => {
        w = await world({ throttle: { reads: { capacity: 3, refillPerSecond: 0.02 }, writes: { capacity: 1, refillPerSecond: 0.01 } } });
        w.fake.injectFailure({ method: "POST", path: /\/run$/, status: 429, retryAfterSeconds: 20 });
        w.fake.injectFailure({ method: "GET", path: /imageTemplates\/[^/]+$/, count: 2, status: 500 });
        const run = await trigger(w);

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.ok(w.fake.requests.filter((r) => r.throttled).length >= 3, "the subscription bucket throttled the trigger");
        assert.equal(runPosts(w).filter((r) => r.status === 202).length, 1, "exactly one run started");
        assert.deepEqual(w.fake.violations, []);
    });

    it("does nothing when the version is already published with the same content", async () => {
        w = await world();
        w.gallery.addVersion({ id: VERSION_ID, tags: { ContentHash: HASH } });
        const run = await trigger(w);

        assert.equal(run.code, 0);
        assert.equal(run.result?.reusedExistingVersion, true);
        assert.deepEqual(run.result?.publishedImageVersions, ["1.0.0", "1.1.0", "1.2.0", "1.10.0"]);
        assert.match(run.stderr.join("\n"), /already published with this content/);
        assert.equal(runPosts(w).length, 0);
    });

    it("refuses, without building, when the version is already published with different content", async () => {
        w = await world();
        w.gallery.addVersion({ id: VERSION_ID, tags: { ContentHash: OTHER_HASH } });
        const run = await trigger(w, { PULUMI_STACK: "test" });

        assert.equal(run.code, 1);
        assert.match(run.stderr[0], /^Error: image version 1\.2\.0 is already published with different content; bump avd-image-rings:imageVersion \(PATCH for a small fix\) in Pulumi\.test\.yaml/);
        assert.equal(runPosts(w).length, 0);
        assert.equal(w.fake.requestsMatching("DELETE", /versions/).length, 0);
        assert.equal(w.gallery.version(VERSION_ID)?.tags.ContentHash, OTHER_HASH, "the published version is untouched");
    });

    it("treats a published version without a ContentHash tag as different content", async () => {
        w = await world();
        w.gallery.addVersion({ id: VERSION_ID, tags: {} });
        const run = await trigger(w);

        assert.equal(run.code, 1);
        assert.match(run.stderr[0], /already published with different content.*no ContentHash tag/);
        assert.equal(runPosts(w).length, 0);
    });

    it("deletes a Failed version left by an earlier build, then builds it again", async () => {
        w = await world();
        w.gallery.addVersion({ id: VERSION_ID, provisioningState: "Failed", tags: { ContentHash: HASH } });
        const run = await trigger(w);

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.equal(run.result?.reusedExistingVersion, false);
        const del = w.fake.requests.findIndex((r) => r.method === "DELETE" && /versions\/1\.2\.0$/.test(r.path));
        const post = w.fake.requests.findIndex((r) => r.method === "POST" && /\/run$/.test(r.path));
        assert.ok(del >= 0 && post > del, "DELETE of the failed version before POST run");
        assert.equal(w.gallery.version(VERSION_ID)?.provisioningState, "Succeeded");
        assert.match(run.stderr.join("\n"), /exists in state Failed.*deleting it/);
        assert.deepEqual(w.fake.violations, []);
    });

    it("follows a build that is already running instead of starting a second one", async () => {
        w = await world();
        const res = await fetch(`${w.fake.url}${TEMPLATE}/run?api-version=2024-02-01`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
        assert.equal(res.status, 202);
        await w.clock.sleep(Number(res.headers.get("retry-after")) * 1000);
        const run = await trigger(w);

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.equal(runPosts(w).length, 1, "only the run started before the trigger");
        assert.match(run.stderr.join("\n"), /already running.*following it/);
    });

    it("refuses a template that stamps a different ContentHash than this deployment", async () => {
        w = await world();
        const run = await trigger(w, { AVD_CONTENT_HASH: OTHER_HASH });

        assert.equal(run.code, 1);
        assert.match(run.stderr[0], /stamps ContentHash .* but this deployment's content hash is/);
        assert.equal(runPosts(w).length, 0);
    });

    it("names a missing or malformed input and makes no Azure call", async () => {
        w = await world();
        const missing = await trigger(w, { AVD_CONTENT_HASH: undefined });
        assert.equal(missing.code, 1);
        assert.deepEqual(missing.stderr, ["Error: AVD_CONTENT_HASH is not set: it must be the SHA-256 of the image content (64 hex digits)."]);
        const wrongType = await trigger(w, { AVD_GALLERY_IMAGE_VERSION_ID: DEFINITION });
        assert.match(wrongType.stderr[0], /AVD_GALLERY_IMAGE_VERSION_ID: .* is not a Microsoft\.Compute\/galleries\/images\/versions resource id/);
        const badTimeout = await trigger(w, { AVD_BUILD_TIMEOUT_MINUTES: "2h" });
        assert.match(badTimeout.stderr[0], /AVD_BUILD_TIMEOUT_MINUTES must be a whole number of minutes from 0 to 960, got "2h"/);
        assert.equal(w.fake.requests.length, 0);
    });

    describe("as a real subprocess", function () {
        this.timeout(60_000);
        const tsx = path.resolve(__dirname, "../node_modules/.bin/tsx");
        const cwd = path.resolve(__dirname, "..");

        function spawnTrigger(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
            return new Promise((resolve, reject) => {
                const child = spawn(tsx, ["tools/buildImage.ts"], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
                let stdout = "";
                let stderr = "";
                child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
                child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
                child.on("error", reject);
                child.on("close", (code) => resolve({ code, stdout, stderr }));
            });
        }

        it("builds against the fake with real time and ends stdout with the JSON result", async () => {
            const gallery = new GalleryModule();
            const aib = new ImageBuilderModule({ gallery });
            const fake = await startFakeAzure({ acceptToken: TOKEN, operationRetryAfterSeconds: 0 }, [gallery, aib]);
            w = { clock: new VirtualClock(), fake, gallery, aib };
            aib.addTemplate({ id: TEMPLATE, galleryImageVersionId: VERSION_ID, artifactTags: { ContentHash: HASH } });
            const out = await spawnTrigger(envFor(w, { AVD_POLL_SECONDS: "0.02" }));

            assert.equal(out.code, 0, out.stderr);
            const lines = out.stdout.trim().split("\n");
            const result = JSON.parse(lines[lines.length - 1]) as BuildResult;
            assert.equal(result.imageVersion, "1.2.0");
            assert.deepEqual(result.publishedImageVersions, ["1.2.0"]);
            assert.match(out.stderr, /Running \/ Customizing/);
            assert.ok(!out.stderr.includes(TOKEN) && !out.stdout.includes(TOKEN));
        });

        it("exits 1 with a one-paragraph error and no stack trace", async () => {
            const out = await spawnTrigger({ AVD_IMAGE_TEMPLATE_ID: "not-an-id" });
            assert.equal(out.code, 1);
            assert.equal(out.stdout, "");
            assert.equal(out.stderr.trim().split("\n").length, 1);
            assert.match(out.stderr, /^Error: AVD_GALLERY_IMAGE_VERSION_ID is not set/);
        });
    });
});

describe("build trigger against lost responses, deadlines and stop requests", () => {
    let w: World;
    afterEach(async () => {
        await w?.fake.stop();
    });

    for (const seed of [1, 2, 3, 4, 5]) {
        it(`deletes the failed version, starts exactly one run and publishes when 30% of responses to every method are lost (seed ${seed})`, async () => {
            w = await world({ lostResponses: { rate: 0.3, random: seededRandom(seed) } });
            w.gallery.addVersion({ id: VERSION_ID, provisioningState: "Failed" });
            const run = await trigger(w);

            assert.equal(run.code, 0, run.stderr.join("\n"));
            assert.equal(run.result?.imageVersion, "1.2.0");
            assert.deepEqual(run.result?.publishedImageVersions, ["1.0.0", "1.1.0", "1.2.0", "1.10.0"]);
            assert.equal(w.aib.template(TEMPLATE).runs, 1, "Azure started exactly one build");
            assert.ok(w.fake.requests.some((r) => r.lost), "some responses were lost");
            assert.deepEqual(w.fake.violations, []);
            assertNoSecretsOrStacks(run);
        });
    }

    for (const status of [0, 502]) {
        it(`follows the run Azure started when the answer to POST run is lost (${status === 0 ? "dropped connection" : `HTTP ${status}`}) instead of starting a second`, async () => {
            w = await world();
            w.fake.injectFailure({ method: "POST", path: /\/run$/, status, applied: true });
            const run = await trigger(w);

            assert.equal(run.code, 0, run.stderr.join("\n"));
            assert.equal(runPosts(w).length, 1, "POST run is not repeated");
            assert.equal(w.aib.template(TEMPLATE).runs, 1);
            assert.match(run.stderr.join("\n"), /answer to starting build 1\.2\.0 was lost .* but Image Builder started it/);
        });
    }

    it("sends POST run again when the failed answer came before Azure applied it", async () => {
        w = await world();
        w.fake.injectFailure({ method: "POST", path: /\/run$/, status: 500 });
        const run = await trigger(w);

        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.equal(runPosts(w).length, 2);
        assert.equal(w.aib.template(TEMPLATE).runs, 1);
        assert.match(run.stderr.join("\n"), /no run started; starting it again/);
    });

    it("recognises a cancel Azure applied although its answer was lost, and does not cancel twice", async () => {
        w = await world();
        w.aib.scriptNextRun(TEMPLATE, { hang: true, failAt: "Customizing" });
        w.fake.injectFailure({ method: "POST", path: /\/cancel$/, status: 0, applied: true });
        const run = await trigger(w, { AVD_BUILD_TIMEOUT_MINUTES: "30" });

        assert.equal(run.code, 1);
        assert.match(run.stderr.join("\n"), /the run was cancelled/);
        assert.equal(w.fake.requestsMatching("POST", /\/cancel$/).length, 1);
        assert.equal(w.aib.template(TEMPLATE).runState, "Canceled");
        assert.deepEqual(w.fake.violations, []);
    });

    it("gives up deleting a Failed version at the build timeout (plus one poll) instead of waiting forever", async () => {
        w = await world();
        w.gallery.addVersion({ id: VERSION_ID, provisioningState: "Failed" });
        w.gallery.deletePolls = 1_000_000;
        const start = w.clock.now();
        const run = await trigger(w, { AVD_BUILD_TIMEOUT_MINUTES: "30" });

        assert.equal(run.code, 1);
        assert.match(run.stderr.join("\n"), /did not finish within 30m00s/);
        const waited = w.clock.now() - start;
        assert.ok(waited <= 31 * 60_000, `waited ${waited / 60_000} minutes`);
        assert.equal(w.aib.template(TEMPLATE).runs, 0, "no build starts while the old version is still there");
    });

    it("ends a wait at the deadline when Azure asks to retry after a day, and says what it waits for", async () => {
        w = await world({ operationRetryAfterSeconds: 86_400 });
        w.gallery.addVersion({ id: VERSION_ID, provisioningState: "Failed" });
        w.gallery.deletePolls = 1_000_000;
        const start = w.clock.now();
        const run = await trigger(w, { AVD_BUILD_TIMEOUT_MINUTES: "30" });

        assert.equal(run.code, 1);
        const waited = w.clock.now() - start;
        assert.ok(waited <= 31 * 60_000, `waited ${waited / 60_000} minutes for a Retry-After of a day`);
        const beats = run.stderr.filter((l) => /waiting .* more \(until .*\) for DELETE .*versions\/1\.2\.0 to finish/.test(l));
        assert.ok(beats.length >= 6, `a progress line at least every 5 minutes (${beats.length} lines)`);
        assert.match(run.stderr.join("\n"), /Azure asked to poll again only after 24h00m00s/);
        assert.deepEqual(w.fake.violations, [], "no poll before the Retry-After");
    });

    it("on a stop request leaves the running build to Image Builder, says how to follow it, and exits 1", async () => {
        w = await world();
        w.aib.scriptNextRun(TEMPLATE, { hang: true, failAt: "Customizing" });
        const stop = new AbortController();
        const stopAt = w.clock.now() + 20 * 60_000;
        const ticker = setInterval(() => {
            if (w.clock.now() >= stopAt) stop.abort();
        }, 1);
        const run = await trigger(w, {}, { signal: stop.signal }).finally(() => clearInterval(ticker));

        assert.equal(run.code, 1);
        const err = run.stderr.join("\n");
        assert.match(err, /Error: the image build trigger stopped on request/);
        assert.match(err, /keeps running in Azure; it was not cancelled/);
        assert.match(err, /az image builder show --name avd-golden-1-2-0 --resource-group rg-avd-images/);
        assert.match(err, /next pulumi up finds the running build and follows it/);
        assert.equal(w.fake.requestsMatching("POST", /\/cancel$/).length, 0);
        assert.equal(w.aib.template(TEMPLATE).runState, "Running");

        const again = await trigger(w, {}, {});
        assert.equal(again.code, 1, "the hanging build still times out on the second run");
        assert.match(again.stderr.join("\n"), /already running .* following it instead of starting another/);
        assert.equal(w.aib.template(TEMPLATE).runs, 1, "the next run re-attaches instead of starting a second build");
    });

    it("starts no build when the stop request comes before the run", async () => {
        w = await world();
        const stop = new AbortController();
        stop.abort();
        const run = await trigger(w, {}, { signal: stop.signal });

        assert.equal(run.code, 1);
        assert.match(run.stderr.join("\n"), /No image build was started for version 1\.2\.0/);
        assert.equal(runPosts(w).length, 0);
    });
});
