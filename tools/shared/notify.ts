// Deploy-time notifications: one short message to the stack's webhook (Teams, Slack or any
// incoming webhook) when the build trigger, the rollout or the health gate starts, finishes or
// fails. A message is best effort and never changes a tool's outcome: it waits at most
// NOTIFY_TIMEOUT_MS in all (two attempts at most), and a failed delivery is one progress line
// that never shows the URL, because the URL itself is the webhook's credential.
//
// The URL arrives only as AVD_NOTIFY_WEBHOOK_URL, a Pulumi secret in the command's environment
// (src/config/notifications.ts); the ring, the image version and the pool are read from the
// tool's own environment, so a message needs no input of its own.
import { AVD_ENV as V, NOTIFICATION_FORMATS, type NotificationFormat } from "../../src/tools/environment";
import type { Io } from "./tool";
import { Progress } from "./tool";
import type { Clock } from "../azure/clock";

/** Total real time one message may take, both attempts included. */
export const NOTIFY_TIMEOUT_MS = 10_000;
/** Teams, Slack and most receivers refuse or cut long texts; one line is the point anyway. */
const MAX_REASON_LENGTH = 300;

export type NotifyTool = "build" | "rollout" | "health gate";
export type NotifyPhase = "started" | "finished" | "failed";

/** What one message says. */
export interface NotifyEvent {
    tool: NotifyTool;
    phase: NotifyPhase;
    /** The ring (stack). */
    ring?: string;
    /** Image definition and version, from the gallery image version id. */
    image?: string;
    imageVersion?: string;
    /** The AVD host pool (rollout, gate). */
    hostPool?: string;
    /** One line: what happened. */
    reason?: string;
}

export interface NotifyOptions {
    /** Total real-time budget per message (default NOTIFY_TIMEOUT_MS). */
    timeoutMs?: number;
    fetch?: typeof fetch;
}

const TOOL_TITLE: Record<NotifyTool, string> = { build: "Image build", rollout: "Rollout", "health gate": "Health gate" };

/** The message as one line of text (Slack, generic receivers, and the Teams card's title). */
export function messageText(e: NotifyEvent): string {
    const parts = [`${TOOL_TITLE[e.tool]} ${e.phase}`];
    if (e.ring) parts.push(`ring ${e.ring}`);
    if (e.imageVersion) parts.push(`image ${e.image ? `${e.image} ` : ""}${e.imageVersion}`);
    if (e.hostPool) parts.push(`host pool ${e.hostPool}`);
    const line = `avd-image-rings: ${parts.join(", ")}`;
    return e.reason ? `${line}: ${e.reason}` : line;
}

/**
 * Which receiver a URL belongs to, by its host: Slack incoming webhooks (hooks.slack.com), Teams
 * Workflows (Power Automate / Logic Apps triggers) and the retired Office 365 connectors
 * (*.webhook.office.com); anything else is a generic receiver.
 */
export function formatForUrl(url: URL): Exclude<NotificationFormat, "auto"> {
    const host = url.hostname.toLowerCase();
    if (host === "hooks.slack.com") return "slack";
    if (
        host.endsWith(".webhook.office.com") ||
        host.endsWith(".logic.azure.com") ||
        host.endsWith(".powerautomate.com") ||
        host.endsWith(".powerplatform.com") ||
        host === "flow.microsoft.com"
    ) {
        return "teams";
    }
    return "generic";
}

/**
 * The JSON body per receiver.
 * - Teams (Workflows "Send webhook alerts to a channel" and incoming webhooks): a message with one
 *   Adaptive Card attachment, the shape Microsoft documents in "Send Adaptive Cards using an
 *   Incoming Webhook" (type "message", attachments[].contentType application/vnd.microsoft.card.adaptive).
 * - Slack incoming webhooks: `{"text": ...}`.
 * - Generic: `{"text": ...}` (what most chat receivers read) plus the fields as data.
 */
export function payloadFor(format: Exclude<NotificationFormat, "auto">, e: NotifyEvent): Record<string, unknown> {
    const text = messageText(e);
    if (format === "slack") return { text };
    if (format === "generic") {
        return {
            text,
            source: "avd-image-rings",
            tool: e.tool,
            phase: e.phase,
            ring: e.ring ?? null,
            image: e.image ?? null,
            imageVersion: e.imageVersion ?? null,
            hostPool: e.hostPool ?? null,
            reason: e.reason ?? null,
        };
    }
    const facts = [
        ["Ring", e.ring],
        ["Image", e.image],
        ["Version", e.imageVersion],
        ["Host pool", e.hostPool],
        ["Outcome", e.phase],
        ["Reason", e.reason],
    ]
        .filter((f): f is [string, string] => f[1] !== undefined)
        .map(([title, value]) => ({ title, value }));
    return {
        type: "message",
        attachments: [
            {
                contentType: "application/vnd.microsoft.card.adaptive",
                contentUrl: null,
                content: {
                    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
                    type: "AdaptiveCard",
                    version: "1.4",
                    body: [
                        {
                            type: "TextBlock",
                            text: `${TOOL_TITLE[e.tool]} ${e.phase}${e.ring ? ` (ring ${e.ring})` : ""}`,
                            weight: "Bolder",
                            size: "Medium",
                            wrap: true,
                            color: e.phase === "failed" ? "Attention" : e.phase === "finished" ? "Good" : "Default",
                        },
                        { type: "FactSet", facts },
                    ],
                },
            },
        ],
    };
}

/** The ring, image and pool a tool works on, read leniently from its environment (a message never fails). */
export function eventContext(env: NodeJS.ProcessEnv): Pick<NotifyEvent, "ring" | "image" | "imageVersion" | "hostPool"> {
    const versionId = env[V.imageVersionId.name]?.trim() || env[V.galleryImageVersionId.name]?.trim() || "";
    const version = /\/images\/([^/]+)\/versions\/([^/]+)$/i.exec(versionId);
    const pool = /\/hostPools\/([^/]+)$/i.exec(env[V.hostPoolId.name]?.trim() ?? "");
    const ring = env[V.ring.name]?.trim() || env.PULUMI_STACK?.trim() || undefined;
    return {
        ...(ring ? { ring } : {}),
        ...(version ? { image: version[1], imageVersion: version[2] } : {}),
        ...(pool ? { hostPool: pool[1] } : {}),
    };
}

/** One line: the first line of a failure report without its "Error: " prefix, cut to a sane length. */
export function oneLineReason(text: string): string {
    const line = (text.split(/\r?\n/).find((l) => l.trim() !== "") ?? "").replace(/^Error:\s*/, "").trim();
    return line.length > MAX_REASON_LENGTH ? `${line.slice(0, MAX_REASON_LENGTH - 1)}…` : line;
}

function budgetText(ms: number): string {
    return ms >= 1000 ? `${Math.round(ms / 1000)}s` : `${ms}ms`;
}

/** Why a delivery failed, in words that never contain the URL (or any part of a request). */
function deliveryProblem(e: unknown, timeoutMs: number): { text: string; retry: boolean } {
    if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) return { text: `no answer within ${budgetText(timeoutMs)}`, retry: false };
    const cause = e instanceof Error ? (e as Error & { cause?: { code?: unknown } }).cause : undefined;
    const code = typeof cause?.code === "string" && /^[A-Z0-9_]+$/.test(cause.code) ? ` (${cause.code})` : "";
    return { text: `the webhook could not be reached${code}`, retry: true };
}

/** Sends a tool's notifications; every method resolves, never rejects. */
export class Notifier {
    private readonly progress: Progress;

    private constructor(
        private readonly target: { url: URL; format: Exclude<NotificationFormat, "auto"> } | undefined,
        private readonly tool: NotifyTool,
        private readonly context: ReturnType<typeof eventContext>,
        io: Io,
        clock: Clock,
        private readonly options: NotifyOptions,
    ) {
        this.progress = new Progress(io, clock);
    }

    /**
     * The notifier for one tool run: silent when AVD_NOTIFY_WEBHOOK_URL is unset; a malformed URL
     * or format is reported once as a progress line (without the value) and nothing is sent.
     */
    static fromEnvironment(env: NodeJS.ProcessEnv, tool: NotifyTool, io: Io, clock: Clock, options: NotifyOptions = {}): Notifier {
        const context = eventContext(env);
        const raw = env[V.notifyWebhookUrl.name]?.trim();
        const disabled = (why?: string) => {
            const n = new Notifier(undefined, tool, context, io, clock, options);
            if (why) n.progress.line(`notifications are off: ${why}`);
            return n;
        };
        if (!raw) return disabled();
        let url: URL;
        try {
            url = new URL(raw);
        } catch {
            return disabled(`${V.notifyWebhookUrl.name} is not a URL`);
        }
        if (url.protocol !== "https:" && url.protocol !== "http:") return disabled(`${V.notifyWebhookUrl.name} is not an http(s) URL`);
        const asked = env[V.notifyFormat.name]?.trim() || "auto";
        const format = NOTIFICATION_FORMATS.find((f) => f === asked);
        if (!format) return disabled(`${V.notifyFormat.name} must be ${NOTIFICATION_FORMATS.join(", ")}, got "${asked}"`);
        return new Notifier({ url, format: format === "auto" ? formatForUrl(url) : format }, tool, context, io, clock, options);
    }

    started(): Promise<void> {
        return this.send("started");
    }

    finished(reason?: string): Promise<void> {
        return this.send("finished", reason);
    }

    /** `report`: the tool's failure lines; the first one becomes the message's reason. */
    failed(report: readonly string[]): Promise<void> {
        return this.send("failed", oneLineReason(report.join("\n")) || undefined);
    }

    private async send(phase: NotifyPhase, reason?: string): Promise<void> {
        if (!this.target) return;
        const event: NotifyEvent = { tool: this.tool, phase, ...this.context, ...(reason ? { reason } : {}) };
        const body = JSON.stringify(payloadFor(this.target.format, event));
        const budget = this.options.timeoutMs ?? NOTIFY_TIMEOUT_MS;
        // Real time, like the ARM client's per-request timeout: the wait is on a socket, which a
        // virtual clock cannot speed up.
        const deadline = Date.now() + budget;
        const doFetch = this.options.fetch ?? fetch;
        let problem = "";
        for (let attempt = 1; attempt <= 2; attempt++) {
            const left = deadline - Date.now();
            if (left <= 0) break;
            try {
                const res = await doFetch(this.target.url, {
                    method: "POST",
                    headers: { "content-type": "application/json" },
                    body,
                    signal: AbortSignal.timeout(left),
                    redirect: "error",
                });
                // The body is not needed; reading it frees the connection.
                await res.arrayBuffer().catch(() => undefined);
                if (res.ok) return;
                problem = `the webhook answered HTTP ${res.status}`;
                if (res.status !== 429 && res.status < 500) break;
            } catch (e) {
                const p = deliveryProblem(e, budget);
                problem = p.text;
                if (!p.retry) break;
            }
        }
        this.progress.line(`notification "${TOOL_TITLE[this.tool].toLowerCase()} ${phase}" not delivered: ${problem || `no answer within ${budgetText(budget)}`}; the ${this.tool}'s own result is unchanged`);
    }
}
