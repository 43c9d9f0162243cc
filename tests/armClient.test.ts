import * as assert from "node:assert/strict";
import { ArmClient, ArmError, LroFailedError, retryAfterMs } from "../tools/azure/arm";
import { VirtualClock } from "../tools/azure/clock";
import { ARM_DEFAULT_SCOPE, DefaultCredentialTokenProvider, StaticTokenProvider, STORAGE_SCOPE } from "../tools/azure/credentials";
import { parentId, parseResourceId, parseTypedResourceId, ResourceIdError } from "../tools/azure/ids";
import { optionalString } from "../tools/azure/json";
import { StopRequested } from "../tools/shared/tool";
import { GalleryModule } from "./fakeAzure/gallery";
import { ImageBuilderModule, IMAGE_BUILDER_API_VERSION } from "./fakeAzure/imageBuilder";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure, type FakeAzureOptions } from "./fakeAzure/server";

const SUB = FAKE_SUBSCRIPTION_ID;
const RG = `/subscriptions/${SUB}/resourceGroups/rg-avd-images`;
const TEMPLATE = `${RG}/providers/Microsoft.VirtualMachineImages/imageTemplates/avd-golden`;
const DEFINITION = `${RG}/providers/Microsoft.Compute/galleries/avd_gallery/images/win11-m365`;
const TOKEN = "test-token-do-not-print";

interface Harness {
    clock: VirtualClock;
    fake: FakeAzure;
    gallery: GalleryModule;
    aib: ImageBuilderModule;
    arm: ArmClient;
}

async function harness(options: Partial<FakeAzureOptions> = {}, retry?: { maxAttempts?: number; initialBackoffMs?: number; maxBackoffMs?: number }): Promise<Harness> {
    const clock = new VirtualClock();
    const gallery = new GalleryModule();
    const aib = new ImageBuilderModule({ gallery });
    const fake = await startFakeAzure({ clock, acceptToken: TOKEN, ...options }, [gallery, aib]);
    const arm = new ArmClient({ endpoint: fake.url, clock, tokenProvider: new StaticTokenProvider(TOKEN, ARM_DEFAULT_SCOPE), random: () => 0, retry });
    return { clock, fake, gallery, aib, arm };
}

function templateBody(versionId: string) {
    return {
        location: "westeurope",
        identity: { type: "UserAssigned", userAssignedIdentities: { [`${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aib`]: {} } },
        properties: {
            source: { type: "PlatformImage", publisher: "MicrosoftWindowsDesktop", offer: "office-365", sku: "win11-24h2-avd-m365", version: "latest" },
            distribute: [{ type: "SharedImage", galleryImageId: versionId, runOutputName: "avd-golden", artifactTags: { ContentHash: "ab".repeat(32) } }],
        },
    };
}

describe("ARM client", () => {
    let h: Harness;
    afterEach(async () => {
        await h?.fake.stop();
    });

    describe("long-running operations", () => {
        it("follows Azure-AsyncOperation to Succeeded, waiting Retry-After between polls, and returns the resource", async () => {
            h = await harness({ operationRetryAfterSeconds: 7, defaultOperationPolls: 3 });
            const start = h.clock.now();
            const result = await h.arm.lro("PUT", TEMPLATE, { apiVersion: IMAGE_BUILDER_API_VERSION, body: templateBody(`${DEFINITION}/versions/1.0.0`) });

            assert.equal(optionalString(result, "properties.provisioningState"), "Succeeded");
            assert.equal(optionalString(result, "name"), "avd-golden");
            const polls = h.fake.requestsMatching("GET", /\/locations\/westeurope\/operations\//);
            assert.equal(polls.length, 3);
            assert.ok(h.clock.now() - start >= 3 * 7000, "three polls, each at least Retry-After (7 s) apart");
            assert.deepEqual(h.fake.violations, []);
        });

        it("follows Location (202 while running) to completion for a DELETE", async () => {
            h = await harness({ operationRetryAfterSeconds: 2 });
            h.aib.addTemplate({ id: TEMPLATE, galleryImageVersionId: `${DEFINITION}/versions/1.0.0` });
            const result = await h.arm.lro("DELETE", TEMPLATE, { apiVersion: IMAGE_BUILDER_API_VERSION });

            assert.equal(result, undefined);
            const polls = h.fake.requestsMatching("GET", /\/operations\//);
            assert.deepEqual(polls.map((p) => p.status), [202, 204]);
            assert.ok(polls.every((p) => p.query.includes("monitor=true")), "polled the Location URL, not Azure-AsyncOperation");
            assert.equal(await h.arm.tryGet(TEMPLATE, { apiVersion: IMAGE_BUILDER_API_VERSION }), undefined, "the template is gone");
            assert.deepEqual(h.fake.violations, []);
        });

        it("prefers Azure-AsyncOperation when a response carries both headers (gallery version delete)", async () => {
            h = await harness({ operationRetryAfterSeconds: 1 });
            h.gallery.addVersion({ id: `${DEFINITION}/versions/1.0.0`, provisioningState: "Failed" });
            await h.arm.lro("DELETE", `${DEFINITION}/versions/1.0.0`, { apiVersion: "2024-03-03" });

            const polls = h.fake.requestsMatching("GET", /\/capsOperations\//);
            assert.ok(polls.length >= 1);
            assert.ok(polls.every((p) => !p.query.includes("monitor=true")));
            assert.equal(h.gallery.version(`${DEFINITION}/versions/1.0.0`), undefined);
        });

        it("throws the operation's error code and message when it ends Failed", async () => {
            h = await harness({ operationRetryAfterSeconds: 1 });
            const fake = h.fake;
            fake.route({
                method: "POST",
                pattern: "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}/reimageall",
                apiVersion: "2024-11-01",
                handler: () => {
                    const op = fake.startOperation({
                        namespace: "Microsoft.Compute",
                        location: "westeurope",
                        apiVersion: "2024-11-01",
                        advance: (n) => (n >= 2 ? { status: "Failed", error: { code: "OSProvisioningTimedOut", message: "OS Provisioning for VM 'avd-0' did not finish in the allotted time." } } : undefined),
                    });
                    return fake.accepted(op, { asyncOperation: true });
                },
            });
            await assert.rejects(
                h.arm.lro("POST", `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd/reimageall`, { apiVersion: "2024-11-01", body: { instanceIds: ["0"] } }),
                (e: unknown) => e instanceof LroFailedError && e.operationStatus === "Failed" && e.code === "OSProvisioningTimedOut" && /did not finish in the allotted time/.test(e.message),
            );
        });

        it("exposes a poller that a tool can step while it watches something else", async () => {
            h = await harness({ operationRetryAfterSeconds: 30, defaultOperationPolls: 2 });
            const poller = await h.arm.begin("PUT", TEMPLATE, { apiVersion: IMAGE_BUILDER_API_VERSION, body: templateBody(`${DEFINITION}/versions/1.0.0`) });
            assert.equal(poller.done, false);
            assert.equal(poller.nextPollDelayMs(), 30_000, "Retry-After of the 201 response");
            await h.arm.sleep(poller.nextPollDelayMs());
            await poller.poll();
            assert.equal(poller.done, false);
            await h.arm.sleep(poller.nextPollDelayMs());
            await poller.poll();
            assert.equal(poller.done, true);
            assert.equal(optionalString(poller.result, "properties.provisioningState"), "Succeeded");
            assert.deepEqual(h.fake.violations, []);
        });
    });

    describe("throttling and transient failures", () => {
        it("waits the full Retry-After of a 429 before retrying, and never sooner", async () => {
            h = await harness();
            h.gallery.addVersion({ id: `${DEFINITION}/versions/1.0.0` });
            h.fake.injectFailure({ method: "GET", path: /versions\/1\.0\.0$/, count: 2, status: 429, retryAfterSeconds: 17 });
            const start = h.clock.now();
            const v = await h.arm.get(`${DEFINITION}/versions/1.0.0`, { apiVersion: "2024-03-03" });

            assert.equal(optionalString(v, "name"), "1.0.0");
            const attempts = h.fake.requestsMatching("GET", /versions\/1\.0\.0$/);
            assert.deepEqual(attempts.map((a) => a.status), [429, 429, 200]);
            assert.ok(attempts[1].time - attempts[0].time >= 17_000 && attempts[2].time - attempts[1].time >= 17_000);
            assert.ok(h.clock.now() - start >= 34_000);
            assert.equal(h.arm.stats.retries, 2);
            assert.equal(h.arm.stats.throttled, 2);
            assert.equal(h.arm.stats.sleptMs, 34_000);
            assert.deepEqual(h.fake.violations, []);
        });

        it("honours Retry-After given as an HTTP date", async () => {
            h = await harness();
            h.gallery.addVersion({ id: `${DEFINITION}/versions/1.0.0` });
            const until = new Date(h.clock.now() + 42_000).toUTCString();
            h.fake.injectFailure({ method: "GET", path: /versions\/1\.0\.0$/, status: 503, headers: { "retry-after": until } });
            await h.arm.get(`${DEFINITION}/versions/1.0.0`, { apiVersion: "2024-03-03" });
            assert.ok(h.arm.stats.sleptMs >= 42_000, `slept ${h.arm.stats.sleptMs} ms`);
        });

        it("keeps to the subscription's read bucket: every request eventually succeeds with no early retry", async () => {
            h = await harness({ throttle: { reads: { capacity: 3, refillPerSecond: 0.5 } } });
            h.gallery.addVersion({ id: `${DEFINITION}/versions/1.0.0` });
            for (let i = 0; i < 8; i++) await h.arm.get(`${DEFINITION}/versions/1.0.0`, { apiVersion: "2024-03-03" });

            const throttled = h.fake.requests.filter((r) => r.throttled);
            assert.ok(throttled.length >= 5, `expected the bucket to throttle, got ${throttled.length} 429s`);
            assert.equal(h.fake.requests.filter((r) => r.status === 200).length, 8);
            assert.equal(h.arm.stats.throttled, throttled.length);
            assert.deepEqual(h.fake.violations, []);
        });

        it("is caught by the fake when a client retries before Retry-After", async () => {
            h = await harness();
            h.gallery.addVersion({ id: `${DEFINITION}/versions/1.0.0` });
            h.fake.drainBucket("reads");
            const url = `${h.fake.url}${DEFINITION}/versions/1.0.0?api-version=2024-03-03`;
            const first = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
            assert.equal(first.status, 429);
            assert.ok(retryAfterMs(first.headers, h.clock.now()) !== undefined);
            const impatient = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
            assert.equal(impatient.status, 429, "ARM throttles an early retry again");
            assert.equal(h.fake.violations.length, 1);
            assert.match(h.fake.violations[0].reason, /reads bucket/);
        });

        it("retries 500/502/504 with capped exponential backoff", async () => {
            h = await harness({}, { initialBackoffMs: 1000, maxBackoffMs: 2000 });
            h.gallery.addVersion({ id: `${DEFINITION}/versions/1.0.0` });
            h.fake.injectFailure({ method: "GET", path: /versions\/1\.0\.0$/, status: 500 });
            h.fake.injectFailure({ method: "GET", path: /versions\/1\.0\.0$/, status: 502 });
            h.fake.injectFailure({ method: "GET", path: /versions\/1\.0\.0$/, status: 504 });
            await h.arm.get(`${DEFINITION}/versions/1.0.0`, { apiVersion: "2024-03-03" });

            const times = h.fake.requestsMatching("GET", /versions\/1\.0\.0$/).map((r) => r.time);
            const gaps = times.slice(1).map((t, i) => t - times[i]);
            // random() = 0 gives the low end of the jitter band: 0.75 x (1 s, 2 s, capped 2 s).
            assert.deepEqual(gaps, [750, 1500, 1500]);
            assert.equal(h.arm.stats.retries, 3);
        });

        it("retries a RetryableError body (409 from an RP busy with another operation)", async () => {
            h = await harness();
            h.gallery.addVersion({ id: `${DEFINITION}/versions/1.0.0` });
            h.fake.injectFailure({ method: "GET", path: /versions\/1\.0\.0$/, status: 409, code: "RetryableErrorDueToAnotherOperation", message: "busy", retryAfterSeconds: 5 });
            await h.arm.get(`${DEFINITION}/versions/1.0.0`, { apiVersion: "2024-03-03" });
            assert.equal(h.arm.stats.retries, 1);
            assert.equal(h.arm.stats.sleptMs, 5000);
            assert.deepEqual(h.fake.violations, []);
        });

        it("gives up after the attempt limit with the status, ARM code and message", async () => {
            h = await harness({}, { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 10 });
            h.fake.injectFailure({ method: "GET", path: /versions$/, count: 10, status: 503, code: "ServerBusy", message: "The server is busy.", retryAfterSeconds: 1 });
            h.gallery.addImageDefinition(DEFINITION);
            await assert.rejects(h.arm.list(`${DEFINITION}/versions`, { apiVersion: "2024-03-03" }), (e: unknown) => {
                assert.ok(e instanceof ArmError);
                assert.equal(e.status, 503);
                assert.equal(e.code, "ServerBusy");
                assert.equal(e.armMessage, "The server is busy.");
                assert.equal(e.attempts, 3);
                return true;
            });
            assert.equal(h.fake.requestsMatching("GET", /versions$/).length, 3);
        });
    });

    describe("errors, paging and auth", () => {
        it("turns ARM error bodies into ArmError (404, wrong api-version) and tryGet into undefined", async () => {
            h = await harness();
            await assert.rejects(h.arm.get(TEMPLATE, { apiVersion: IMAGE_BUILDER_API_VERSION }), (e: unknown) => e instanceof ArmError && e.status === 404 && e.code === "ResourceNotFound" && e.attempts === 1);
            assert.equal(await h.arm.tryGet(TEMPLATE, { apiVersion: IMAGE_BUILDER_API_VERSION }), undefined);
            await assert.rejects(h.arm.get(TEMPLATE, { apiVersion: "2022-02-14" }), (e: unknown) => e instanceof ArmError && e.status === 400 && e.code === "InvalidApiVersionParameter" && /2024-02-01/.test(e.armMessage));
        });

        it("sends the bearer token but never puts it in an error", async () => {
            h = await harness();
            const wrong = new ArmClient({ endpoint: h.fake.url, clock: h.clock, tokenProvider: new StaticTokenProvider("not-the-token", ARM_DEFAULT_SCOPE) });
            await assert.rejects(wrong.get(TEMPLATE, { apiVersion: IMAGE_BUILDER_API_VERSION }), (e: unknown) => e instanceof ArmError && e.status === 401 && !e.message.includes("not-the-token"));
            assert.ok(h.fake.requests.every((r) => r.auth === "bearer"));
        });

        it("collects every page of a list by following nextLink", async () => {
            h = await harness({ pageSize: 2 });
            for (const v of ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.0.1"]) h.gallery.addVersion({ id: `${DEFINITION}/versions/${v}` });
            const items = await h.arm.list(`${DEFINITION}/versions`, { apiVersion: "2024-03-03" });
            assert.deepEqual(items.map((i) => optionalString(i, "name")).sort(), ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.0.1"]);
            assert.equal(h.fake.requestsMatching("GET", /versions$/).length, 3);
        });

        it("refuses to send its token to a nextLink on another host", async () => {
            h = await harness();
            const fake = h.fake;
            fake.route({ method: "GET", pattern: "/subscriptions/{subscriptionId}/providers/Microsoft.Test/things", apiVersion: "2024-01-01", handler: () => ({ status: 200, body: { value: [1], nextLink: "https://attacker.example/steal" } }) });
            await assert.rejects(h.arm.list(`/subscriptions/${SUB}/providers/Microsoft.Test/things`, { apiVersion: "2024-01-01" }), (e: unknown) => e instanceof ArmError && e.code === "UntrustedUrl");
        });

        it("counts requests by method, retries and time slept for benchmarks", async () => {
            h = await harness({ operationRetryAfterSeconds: 3 });
            await h.arm.lro("PUT", TEMPLATE, { apiVersion: IMAGE_BUILDER_API_VERSION, body: templateBody(`${DEFINITION}/versions/1.0.0`) });
            assert.equal(h.arm.stats.byMethod.PUT, 1);
            assert.equal(h.arm.stats.byMethod.GET, 3, "two status polls and the final GET");
            assert.equal(h.arm.stats.requests, 4);
            assert.equal(h.arm.stats.sleptMs, 6000);
        });
    });

    describe("credentials", () => {
        it("caches a DefaultAzureCredential token per scope until shortly before it expires", async () => {
            const clock = new VirtualClock();
            let calls = 0;
            const credential = {
                getToken: async (scope: string | string[]) => {
                    calls++;
                    return { token: `${String(scope)}#${calls}`, expiresOnTimestamp: clock.now() + 60 * 60_000 };
                },
            };
            const provider = new DefaultCredentialTokenProvider(clock, credential);
            assert.equal(await provider.getToken(ARM_DEFAULT_SCOPE), `${ARM_DEFAULT_SCOPE}#1`);
            clock.advance(50 * 60_000);
            assert.equal(await provider.getToken(ARM_DEFAULT_SCOPE), `${ARM_DEFAULT_SCOPE}#1`, "still 10 minutes left: cached");
            assert.equal(await provider.getToken(STORAGE_SCOPE), `${STORAGE_SCOPE}#2`, "another scope, another token");
            clock.advance(6 * 60_000);
            assert.equal(await provider.getToken(ARM_DEFAULT_SCOPE), `${ARM_DEFAULT_SCOPE}#3`, "within 5 minutes of expiry: refreshed");
        });

        it("a pre-acquired ARM token is not offered for Azure Storage", async () => {
            const provider = new StaticTokenProvider("t", ARM_DEFAULT_SCOPE);
            assert.equal(provider.supports(STORAGE_SCOPE), false);
            await assert.rejects(provider.getToken(STORAGE_SCOPE));
        });
    });

    describe("resource ids", () => {
        it("parses subscription, resource group, provider, types and name", () => {
            const id = parseResourceId(`${DEFINITION}/versions/1.2.0`);
            assert.equal(id.subscriptionId, SUB);
            assert.equal(id.resourceGroupName, "rg-avd-images");
            assert.equal(id.provider, "Microsoft.Compute");
            assert.equal(id.resourceType, "Microsoft.Compute/galleries/images/versions");
            assert.equal(id.name, "1.2.0");
            assert.deepEqual(id.types.map((t) => t.name), ["avd_gallery", "win11-m365", "1.2.0"]);
            assert.equal(parentId(id), DEFINITION);
        });

        it("matches types case-insensitively and names what is wrong", () => {
            const lower = `/subscriptions/${SUB}/resourcegroups/rg/providers/microsoft.virtualmachineimages/imagetemplates/t`;
            assert.equal(parseTypedResourceId(lower, "Microsoft.VirtualMachineImages/imageTemplates", "AVD_IMAGE_TEMPLATE_ID").name, "t");
            assert.throws(() => parseTypedResourceId(DEFINITION, "Microsoft.VirtualMachineImages/imageTemplates", "AVD_IMAGE_TEMPLATE_ID"), (e: unknown) => e instanceof ResourceIdError && /AVD_IMAGE_TEMPLATE_ID/.test(e.message));
            assert.throws(() => parseResourceId("rg-avd-images"), ResourceIdError);
            assert.throws(() => parseResourceId(`${RG}/providers/Microsoft.Compute/galleries`), ResourceIdError);
        });
    });
});

describe("ARM client: final-state-via, deadlines and stop requests", () => {
    const VMSS = `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-test`;
    let h: Harness;
    afterEach(async () => {
        await h?.fake.stop();
    });

    /** A Compute POST action whose operation finishes with a result, and a GET of the resource it acts on. */
    async function computeAction(): Promise<Harness> {
        const x = await harness({ operationRetryAfterSeconds: 5, defaultOperationPolls: 2 });
        x.fake.route({ method: "GET", pattern: "/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}", apiVersion: "2024-11-01", handler: () => ({ status: 200, body: { name: "vmss-avd-test", source: "original-uri" } }) });
        x.fake.route({
            method: "POST",
            pattern: "/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}/action",
            apiVersion: "2024-11-01",
            handler: () => x.fake.accepted(x.fake.startOperation({ namespace: "Microsoft.Compute", location: "westeurope", apiVersion: "2024-11-01", advance: (n) => (n >= 2 ? { status: "Succeeded", result: { source: "location" } } : undefined) }), {}),
        });
        return x;
    }

    it("a Compute operation answers 202 with both Azure-AsyncOperation and Location", async () => {
        h = await computeAction();
        const res = await h.arm.request("POST", `${VMSS}/action`, { apiVersion: "2024-11-01" });
        assert.equal(res.status, 202);
        assert.match(res.headers.get("azure-asyncoperation") ?? "", /\/providers\/Microsoft\.Compute\/locations\/westeurope\/operations\//);
        assert.match(res.headers.get("location") ?? "", /monitor=true/);
    });

    it("final-state-via location (the default): the result is the Location URL's answer", async () => {
        h = await computeAction();
        const result = await h.arm.lro("POST", `${VMSS}/action`, { apiVersion: "2024-11-01" });
        assert.deepEqual(result, { source: "location" });
    });

    it("final-state-via azure-async-operation: the result comes from the operation status, the Location URL is never read", async () => {
        h = await computeAction();
        const result = await h.arm.lro("POST", `${VMSS}/action`, { apiVersion: "2024-11-01", finalStateVia: "azure-async-operation" });
        assert.equal(result, undefined, "the operation status body carries no properties");
        assert.equal(h.fake.requestsMatching("GET", /\/operations\//).filter((r) => r.query.includes("monitor=true")).length, 0);
    });

    it("final-state-via original-uri: the result of a PATCH is a GET of the resource, not the Location answer", async () => {
        h = await computeAction();
        h.fake.route({ method: "PATCH", pattern: "/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}", apiVersion: "2024-11-01", handler: () => h.fake.accepted(h.fake.startOperation({ namespace: "Microsoft.Compute", location: "westeurope", apiVersion: "2024-11-01", advance: (n) => (n >= 2 ? { status: "Succeeded", result: { source: "location" } } : undefined) }), {}) });
        const viaResource = await h.arm.lro("PATCH", VMSS, { apiVersion: "2024-11-01", body: {}, finalStateVia: "original-uri" });
        assert.equal(optionalString(viaResource, "source"), "original-uri");
        const viaLocation = await h.arm.lro("PATCH", VMSS, { apiVersion: "2024-11-01", body: {}, finalStateVia: "location" });
        assert.equal(optionalString(viaLocation, "source"), "location");
    });

    it("fails at once, naming the wait, when a Retry-After reaches past the call's deadline", async () => {
        h = await harness();
        h.fake.injectFailure({ method: "GET", path: TEMPLATE, status: 429, retryAfterSeconds: 86_400 });
        const start = h.clock.now();
        await assert.rejects(h.arm.get(TEMPLATE, { apiVersion: IMAGE_BUILDER_API_VERSION, deadline: start + 30 * 60_000 }), (e: unknown) => {
            assert.ok(e instanceof ArmError);
            assert.match(e.message, /Azure asked to retry in 24h00m00s, but only 30m00s remain before this step's deadline/);
            return true;
        });
        assert.equal(h.clock.now(), start, "no time spent waiting for a retry that could never happen in time");
    });

    it("says what a long wait is for at least every 5 minutes, and rejects with StopRequested when stopped", async () => {
        const clock = new VirtualClock();
        const lines: string[] = [];
        const stop = new AbortController();
        const arm = new ArmClient({ endpoint: "http://127.0.0.1:9", clock, tokenProvider: new StaticTokenProvider(TOKEN, ARM_DEFAULT_SCOPE), heartbeat: (l) => lines.push(l), signal: stop.signal });
        await arm.sleep(17 * 60_000, "the rolling upgrade");
        assert.equal(lines.length, 4);
        assert.match(lines[0], /^waiting 17m00s more \(until 2026-01-12T08:17:00\.000Z\) for the rolling upgrade$/);

        const waiting = arm.sleep(60 * 60_000, "the build");
        stop.abort();
        await assert.rejects(waiting, (e: unknown) => e instanceof StopRequested && /while waiting for the build/.test(e.message));
        await assert.rejects(arm.sleep(1), StopRequested, "later waits reject at once");
    });
});
