// `avd-image-rings:notifications`: the webhook the deploy-time tools tell when a build, a rollout
// or a health gate starts, finishes or fails (tools/shared/notify.ts), and how it reaches them:
// only as a Pulumi secret in each command's environment.
//
// The URL is set with `pulumi config set --secret --path avd-image-rings:notifications.webhookUrl <url>`:
// the stack file then holds `notifications: {webhookUrl: {secure: ...}}`, and the CLI hands the
// program the whole object decrypted, as JSON, listing the top-level key `avd-image-rings:notifications`
// among the secret keys (PULUMI_CONFIG_SECRET_KEYS; a config object with a secure value inside is
// secure as a whole, pulumi/pulumi#3343). A URL written in plain text would sit in git: refused.
import * as pulumi from "@pulumi/pulumi";
import { AVD_ENV as V, NOTIFICATION_FORMATS, type NotificationFormat } from "../tools/environment";
import type { Reader } from "./reader";

export interface NotificationsConfig {
    /** A Pulumi secret end to end: encrypted in state, [secret] in every preview, never in a message. */
    webhookUrl: pulumi.Output<string>;
    /** Payload shape; "auto" chooses by the URL's host (Teams, Slack, else generic). */
    format: NotificationFormat;
}

const WEBHOOK_URL = { pattern: /^https:\/\/[^\s/?#]+[^\s]*$/, hint: "must be the webhook's https:// URL" };

/**
 * Reads the optional `notifications` block. `secret`: whether the CLI handed the key over as a
 * secret (it does when webhookUrl was set with --secret).
 */
export function parseNotifications(r: Reader | undefined, secret: boolean, stack: string): NotificationsConfig | undefined {
    if (!r) return undefined;
    if (r.has("webhookUrl") && !secret) {
        r.fail(
            "webhookUrl",
            `is set in plain text, but the webhook URL is a credential (anyone holding it can post to the channel) and the stack file is kept in git; remove it from the file and set it with: pulumi config set --secret --path ${r.sub("webhookUrl")} <url> --stack ${stack}`,
        );
    }
    const url = r.str("webhookUrl", WEBHOOK_URL);
    const n: NotificationsConfig = {
        webhookUrl: pulumi.secret(url),
        format: r.oneOf("format", NOTIFICATION_FORMATS, "auto"),
    };
    r.done();
    return n;
}

/**
 * The entries every deploy-time command gets when notifications are on: the URL as a Pulumi
 * secret, the format and the ring. Empty when they are off, so a stack without notifications
 * keeps exactly the command environments it had (a changed environment re-runs a command).
 */
export function notificationEnvironment(n: NotificationsConfig | undefined, stack: string): Record<string, pulumi.Input<string>> {
    if (!n) return {};
    return {
        [V.notifyWebhookUrl.name]: pulumi.secret(n.webhookUrl),
        [V.notifyFormat.name]: n.format,
        [V.ring.name]: stack,
    };
}
