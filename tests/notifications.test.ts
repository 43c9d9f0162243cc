import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { main as buildMain } from "../tools/buildImage";
import { main as gateMain } from "../tools/healthGate";
import { main as rolloutMain } from "../tools/rollout";
import { VirtualClock } from "../tools/azure/clock";
import { formatForUrl, messageText, payloadFor, type NotifyEvent } from "../tools/shared/notify";
import { notificationEnvironment, parseNotifications } from "../src/config/notifications";
import { ConfigError, Reader } from "../src/config/reader";
import { ComputeModule } from "./fakeAzure/compute";
import { DesktopVirtualizationModule } from "./fakeAzure/desktopVirtualization";
import { GalleryModule } from "./fakeAzure/gallery";
import { ImageBuilderModule } from "./fakeAzure/imageBuilder";
import { RunCommandModule } from "./fakeAzure/runCommand";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure } from "./fakeAzure/server";

const TOKEN = "notification-test-arm-token";
const HOOK_SECRET = "sig=Hook-Credential-7f3a9c";
const IMAGES = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images`;
const TEMPLATE = `${IMAGES}/providers/Microsoft.VirtualMachineImages/imageTemplates/avd-golden-1-2-0`;
const DEFINITION = `${IMAGES}/providers/Microsoft.Compute/galleries/avd_gallery/images/win11-m365`;
const NEW = `${DEFINITION}/versions/1.2.0`;
const OLD = `${DEFINITION}/versions/1.1.0`;
const HASH = createHash("sha256").update("image content for 1.2.0").digest("hex");
const RING = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-pilot`;
const VMSS = `${RING}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-pilot`;
const HOST_POOL = `${RING}/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-pilot`;
const MISSING_POOL = `${RING}/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-missing`;

type Mode = "ok" | "error" | "slow";

interface Receiver {
    url: string;
    posts: Array<{ contentType?: string; body: Record<string, unknown> }>;
    close(): Promise<void>;
}

/** A webhook receiver on 127.0.0.1: answers 200, 500, or never. */
async function receiver(mode: Mode): Promise<Receiver> {
    const posts: Receiver["posts"] = [];
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            posts.push({ contentType: req.headers["content-type"], body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown> });
            if (mode === "slow") return;
            res.writeHead(mode === "ok" ? 200 : 500, { "content-type": "text/plain" });
            res.end(mode === "ok" ? "1" : "boom");
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        url: `http://127.0.0.1:${port}/webhookb2/${HOOK_SECRET}`,
        posts,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

/** A URL nobody listens on: the receiver is down. */
async function downUrl(): Promise<string> {
    const r = await receiver("ok");
    await r.close();
    return r.url;
}

interface Run {
    code: number;
    output: string;
    stderr: string[];
}

function io() {
    const stdout: string[] = [];
    const stderr: string[] = [];
    return { stdout, stderr, io: { stdout: (l: string) => stdout.push(l), stderr: (l: string) => stderr.push(l) } };
}

async function buildWorld(withTemplate: boolean): Promise<{ fake: FakeAzure; clock: VirtualClock }> {
    const clock = new VirtualClock();
    const gallery = new GalleryModule();
    const aib = new ImageBuilderModule({ gallery });
    const fake = await startFakeAzure({ clock, acceptToken: TOKEN }, [gallery, aib]);
    if (withTemplate) aib.addTemplate({ id: TEMPLATE, galleryImageVersionId: NEW, artifactTags: { ContentHash: HASH }, targetRegions: ["westeurope"] });
    return { fake, clock };
}

async function build(url: string, withTemplate = true, timeoutMs?: number): Promise<Run> {
    const { fake, clock } = await buildWorld(withTemplate);
    const o = io();
    const env = {
        AZURE_RESOURCE_MANAGER_ENDPOINT: fake.url,
        AVD_ARM_ACCESS_TOKEN: TOKEN,
        AVD_IMAGE_TEMPLATE_ID: TEMPLATE,
        AVD_GALLERY_IMAGE_VERSION_ID: NEW,
        AVD_CONTENT_HASH: HASH,
        AVD_BUILD_TIMEOUT_MINUTES: "120",
        AVD_NOTIFY_WEBHOOK_URL: url,
        AVD_RING: "test",
    };
    try {
        const code = await buildMain(env, o.io, { clock, notify: { timeoutMs } });
        return { code, output: [...o.stdout, ...o.stderr].join("\n"), stderr: o.stderr };
    } finally {
        await fake.stop();
    }
}

/** One host pool of 2 healthy hosts whose model is on 1.2.0 (instances still on 1.1.0 for the rollout). */
async function ringWorld(onNew: boolean): Promise<{ fake: FakeAzure; clock: VirtualClock }> {
    const clock = new VirtualClock();
    const compute = new ComputeModule();
    const rc = new RunCommandModule(compute, {
        defaultRunCommand: (input) => ({
            stdout: JSON.stringify({
                computerName: input.computerName,
                domainJoined: false,
                entraJoined: true,
                services: { RDAgent: "Running", RDAgentBootLoader: "Running", frxsvc: "Running" },
                cpuPercent: 10,
                freeMemoryPercent: 60,
                lastLogon: null,
                bootTime: "2026-01-12T08:00:00.0000000Z",
            }),
        }),
    });
    const dv = new DesktopVirtualizationModule({ compute });
    const fake = await startFakeAzure({ clock, acceptToken: TOKEN }, [compute, rc, dv]);
    compute.addScaleSet({ id: VMSS, capacity: 2, imageReferenceId: onNew ? NEW : OLD, zones: ["1"], computerNamePrefix: "avdplt", upgradeMode: "Manual" });
    dv.addHostPool({ id: HOST_POOL, scaleSetId: VMSS });
    compute.setModelImage(VMSS, NEW);
    return { fake, clock };
}

async function rollout(url: string, hostPoolId = HOST_POOL, timeoutMs?: number): Promise<Run> {
    const { fake, clock } = await ringWorld(false);
    const o = io();
    const env = {
        AZURE_RESOURCE_MANAGER_ENDPOINT: fake.url,
        AVD_ARM_ACCESS_TOKEN: TOKEN,
        AVD_VMSS_ID: VMSS,
        AVD_HOST_POOL_ID: hostPoolId,
        AVD_IMAGE_VERSION_ID: NEW,
        AVD_MAX_BATCH_PERCENT: "50",
        AVD_MAX_UNHEALTHY_PERCENT: "50",
        AVD_MAX_UNHEALTHY_UPGRADED_PERCENT: "50",
        AVD_PAUSE_BETWEEN_BATCHES: "PT1M",
        AVD_PRIORITIZE_UNHEALTHY: "true",
        AVD_DRAIN_TIMEOUT_MINUTES: "10",
        AVD_FORCE_LOGOFF: "false",
        AVD_NOTIFY_WEBHOOK_URL: url,
        AVD_RING: "pilot",
    };
    try {
        const code = await rolloutMain(env, o.io, { clock, owner: "tester@ci", notify: { timeoutMs } });
        return { code, output: [...o.stdout, ...o.stderr].join("\n"), stderr: o.stderr };
    } finally {
        await fake.stop();
    }
}

async function gate(url: string, hostPoolId = HOST_POOL, timeoutMs?: number): Promise<Run> {
    const { fake, clock } = await ringWorld(true);
    const o = io();
    const env = {
        AZURE_RESOURCE_MANAGER_ENDPOINT: fake.url,
        AVD_ARM_ACCESS_TOKEN: TOKEN,
        AVD_VMSS_ID: VMSS,
        AVD_HOST_POOL_ID: hostPoolId,
        AVD_IMAGE_VERSION_ID: NEW,
        AVD_UPGRADE_MODE: "Manual",
        AVD_GATE_TIMEOUT_MINUTES: "30",
        AVD_NOTIFY_WEBHOOK_URL: url,
        AVD_RING: "pilot",
    };
    try {
        const code = await gateMain(env, o.io, { clock, notify: { timeoutMs } });
        return { code, output: [...o.stdout, ...o.stderr].join("\n"), stderr: o.stderr };
    } finally {
        await fake.stop();
    }
}

function phases(r: Receiver): string[] {
    return r.posts.map((p) => `${String(p.body.tool)} ${String(p.body.phase)}`);
}

function assertUrlNeverPrinted(run: Run, url: string): void {
    assert.ok(!run.output.includes(HOOK_SECRET), "the webhook's credential is never printed");
    assert.ok(!run.output.includes(url), "the webhook URL is never printed");
}

const TOOLS = [
    { tool: "build", ok: (url: string, t?: number) => build(url, true, t), fail: (url: string) => build(url, false) },
    { tool: "rollout", ok: (url: string, t?: number) => rollout(url, HOST_POOL, t), fail: (url: string) => rollout(url, MISSING_POOL) },
    { tool: "health gate", ok: (url: string, t?: number) => gate(url, HOST_POOL, t), fail: (url: string) => gate(url, MISSING_POOL) },
] as const;

describe("notifications: the deploy-time tools tell the webhook when they start, finish or fail", function () {
    this.timeout(30000);

    for (const t of TOOLS) {
        it(`the ${t.tool} posts "started" then "finished" with ring, image version and outcome`, async () => {
            const r = await receiver("ok");
            try {
                const run = await t.ok(r.url);
                assert.equal(run.code, 0, run.output);
                assert.deepEqual(phases(r), [`${t.tool} started`, `${t.tool} finished`]);
                const finished = r.posts[1];
                assert.equal(finished.contentType, "application/json");
                assert.equal(finished.body.ring, t.tool === "build" ? "test" : "pilot");
                assert.equal(finished.body.imageVersion, "1.2.0");
                assert.equal(finished.body.image, "win11-m365");
                if (t.tool !== "build") assert.equal(finished.body.hostPool, "vdpool-avd-pilot");
                assert.match(String(finished.body.text), new RegExp(`finished, ring ${t.tool === "build" ? "test" : "pilot"}, image win11-m365 1\\.2\\.0`));
                assert.ok(typeof finished.body.reason === "string" && finished.body.reason.length > 0, "a one-line reason");
                assert.ok(!run.stderr.some((l) => l.includes("notification")), "a delivered message prints nothing");
                assertUrlNeverPrinted(run, r.url);
            } finally {
                await r.close();
            }
        });

        it(`the ${t.tool} posts "failed" with the first line of its error as the reason`, async () => {
            const r = await receiver("ok");
            try {
                const run = await t.fail(r.url);
                assert.notEqual(run.code, 0);
                assert.equal(phases(r).at(-1), `${t.tool} failed`);
                const reason = String(r.posts.at(-1)?.body.reason);
                assert.ok(!reason.startsWith("Error:") && !reason.includes("\n") && reason.length > 10, reason);
                const headline = run.stderr.find((l) => l.startsWith("Error: ")) ?? "";
                assert.ok(headline.includes(reason.slice(0, 40)), `the reason is the error's headline: ${reason} / ${headline}`);
                assertUrlNeverPrinted(run, r.url);
            } finally {
                await r.close();
            }
        });

        for (const mode of ["down", "error", "slow"] as const) {
            it(`the ${t.tool} still succeeds when the receiver is ${mode === "error" ? "answering 500" : mode}, with one line per undelivered message and no URL`, async () => {
                const r = mode === "down" ? undefined : await receiver(mode);
                const url = r?.url ?? (await downUrl());
                try {
                    const started = Date.now();
                    const run = await t.ok(url, 400);
                    assert.equal(run.code, 0, run.output);
                    const lines = run.stderr.filter((l) => l.includes("not delivered"));
                    assert.equal(lines.length, 2, lines.join("\n"));
                    const why = mode === "down" ? /could not be reached \(ECONNREFUSED\)/ : mode === "error" ? /answered HTTP 500/ : /no answer within 400ms/;
                    for (const l of lines) assert.match(l, why);
                    if (mode === "error") assert.equal(r?.posts.length, 4, "one retry per message after a 500, no more");
                    if (mode === "slow") {
                        assert.equal(r?.posts.length, 2, "a slow receiver gets no second attempt");
                        assert.ok(Date.now() - started < 10_000, "each message waits at most its deadline");
                    }
                    assertUrlNeverPrinted(run, url);
                } finally {
                    await r?.close();
                }
            });
        }
    }

    it("a tool without AVD_NOTIFY_WEBHOOK_URL sends nothing and prints nothing about notifications", async () => {
        const run = await gate("");
        assert.equal(run.code, 0, run.output);
        assert.ok(!run.output.includes("notification"));
    });

    it("a malformed URL turns notifications off with one line that does not show it", async () => {
        const run = await gate("hooks.example.com/not-a-url/Secret-Part");
        assert.equal(run.code, 0, run.output);
        assert.deepEqual(run.stderr.filter((l) => l.includes("notifications are off")).map((l) => l.replace(/^\[\S+\] /, "")), ["notifications are off: AVD_NOTIFY_WEBHOOK_URL is not a URL"]);
        assert.ok(!run.output.includes("Secret-Part"));
    });
});

describe("notification payloads for Teams, Slack and generic webhooks", () => {
    const event: NotifyEvent = { tool: "rollout", phase: "failed", ring: "prod", image: "avd-win11-m365", imageVersion: "1.3.0", hostPool: "vdpool-avd-prod", reason: "3 hosts unhealthy" };

    it("chooses the shape from the URL's host", () => {
        assert.equal(formatForUrl(new URL("https://hooks.slack.com/services/T000/B000/XXXX")), "slack");
        assert.equal(formatForUrl(new URL("https://contoso.webhook.office.com/webhookb2/abc")), "teams");
        assert.equal(formatForUrl(new URL("https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke")), "teams");
        assert.equal(formatForUrl(new URL("https://default0f1e.2d.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/abc")), "teams");
        assert.equal(formatForUrl(new URL("https://alerts.example.com/hook")), "generic");
    });

    it("Slack gets {text}; generic gets {text} plus the fields; Teams gets a message with one Adaptive Card", () => {
        const text = "avd-image-rings: Rollout failed, ring prod, image avd-win11-m365 1.3.0, host pool vdpool-avd-prod: 3 hosts unhealthy";
        assert.equal(messageText(event), text);
        assert.deepEqual(payloadFor("slack", event), { text });
        assert.deepEqual(payloadFor("generic", event), { text, source: "avd-image-rings", tool: "rollout", phase: "failed", ring: "prod", image: "avd-win11-m365", imageVersion: "1.3.0", hostPool: "vdpool-avd-prod", reason: "3 hosts unhealthy" });
        const teams = payloadFor("teams", event) as { type: string; attachments: Array<{ contentType: string; content: { type: string; body: Array<{ type: string; text?: string; color?: string; facts?: unknown }> } }> };
        assert.equal(teams.type, "message");
        assert.equal(teams.attachments.length, 1);
        assert.equal(teams.attachments[0].contentType, "application/vnd.microsoft.card.adaptive");
        const card = teams.attachments[0].content;
        assert.equal(card.type, "AdaptiveCard");
        assert.equal(card.body[0].text, "Rollout failed (ring prod)");
        assert.equal(card.body[0].color, "Attention");
        assert.deepEqual(card.body[1].facts, [
            { title: "Ring", value: "prod" },
            { title: "Image", value: "avd-win11-m365" },
            { title: "Version", value: "1.3.0" },
            { title: "Host pool", value: "vdpool-avd-prod" },
            { title: "Outcome", value: "failed" },
            { title: "Reason", value: "3 hosts unhealthy" },
        ]);
    });
});

describe("avd-image-rings:notifications config", () => {
    const URL_VALUE = "https://contoso.webhook.office.com/webhookb2/Hook-Credential-7f3a9c";
    const reader = (value: Record<string, unknown>, secret: boolean) =>
        Reader.root("Pulumi.test.yaml", "avd-image-rings", { notifications: value }, (k) => secret && k.startsWith("avd-image-rings:notifications")).obj("notifications");

    it("refuses a webhook URL in plain text, naming the file and key and never the URL", () => {
        assert.throws(
            () => parseNotifications(reader({ webhookUrl: URL_VALUE }, false), false, "test"),
            (e: unknown) =>
                e instanceof ConfigError &&
                e.key === "avd-image-rings:notifications.webhookUrl" &&
                e.message.startsWith("Pulumi.test.yaml: avd-image-rings:notifications.webhookUrl is set in plain text") &&
                e.message.includes("pulumi config set --secret --path avd-image-rings:notifications.webhookUrl <url> --stack test") &&
                !e.message.includes("Hook-Credential"),
        );
    });

    it("refuses a secret that is not an https URL without showing it", () => {
        assert.throws(
            () => parseNotifications(reader({ webhookUrl: "http://hooks.example.com/Hook-Credential" }, true), true, "test"),
            (e: unknown) => e instanceof ConfigError && /webhookUrl must be the webhook's https:\/\/ URL, got a secret value$/.test(e.message) && !e.message.includes("Hook-Credential"),
        );
        assert.throws(() => parseNotifications(reader({ webhookUrl: URL_VALUE, format: "Teams" }, true), true, "test"), /format must be one of "auto", "teams", "slack", "generic", got a secret value \(did you mean "teams"\?/);
        assert.throws(() => parseNotifications(reader({ webhookUrl: URL_VALUE, channel: "x" }, true), true, "test"), /channel is not a known key/);
    });

    it("hands the commands the URL as a Pulumi secret with the format and the ring, and nothing when notifications are off", async () => {
        const n = parseNotifications(reader({ webhookUrl: URL_VALUE }, true), true, "test");
        assert.ok(n);
        assert.equal(n.format, "auto");
        const env = notificationEnvironment(n, "test");
        assert.deepEqual(Object.keys(env).sort(), ["AVD_NOTIFY_FORMAT", "AVD_NOTIFY_WEBHOOK_URL", "AVD_RING"]);
        assert.equal(env.AVD_RING, "test");
        const url = pulumi.output(env.AVD_NOTIFY_WEBHOOK_URL);
        assert.equal(await pulumi.isSecret(url), true);
        assert.equal(await new Promise((resolve) => url.apply(resolve)), URL_VALUE);
        assert.deepEqual(notificationEnvironment(undefined, "test"), {});
        assert.equal(parseNotifications(undefined, false, "test"), undefined);
    });
});
