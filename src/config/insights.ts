// `avd-image-rings:insights`: AVD Insights for the ring, sending the diagnostics of every host pool,
// application group and AVD workspace to a Log Analytics workspace, either one that exists (by its
// ARM id) or one the program creates in the ring's resource group (src/monitoring/insights.ts).
import type { Reader } from "./reader";

export type InsightsConfig =
    /** An existing Log Analytics workspace; the program never changes or deletes it. */
    | { kind: "existing"; workspaceId: string }
    /** A workspace the program creates (and deletes with the ring). */
    | { kind: "create"; name: string; retentionDays: number };

// Microsoft.OperationalInsights/workspaces: 4-63 letters, digits and '-', starting and ending with a letter or digit.
const WORKSPACE_NAME = { pattern: /^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$/, hint: "must be 4-63 letters, digits or '-', starting and ending with a letter or digit" };
const WORKSPACE_ID = {
    pattern: /^\/subscriptions\/[0-9a-fA-F-]{36}\/resourceGroups\/[-\w._()]{1,90}\/providers\/Microsoft\.OperationalInsights\/workspaces\/[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$/i,
    hint: "must be the ARM id of a Log Analytics workspace, /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.OperationalInsights/workspaces/<name>",
};
/** Interactive retention of the pay-as-you-go tier (PerGB2018) the program creates: 30 to 730 days. */
export const RETENTION_DAYS = { min: 30, max: 730 } as const;

/** Reads the optional `insights` block: exactly one of `workspaceId` and `create`. */
export function parseInsights(r: Reader | undefined): InsightsConfig | undefined {
    if (!r) return undefined;
    const hasId = r.has("workspaceId");
    const hasCreate = r.has("create");
    if (hasId && hasCreate) {
        r.fail("create", "cannot be set together with workspaceId: the diagnostics go to one Log Analytics workspace, either the existing one (workspaceId) or a new one (create: {name, retentionDays})");
    }
    if (!hasId && !hasCreate) {
        r.fail("workspaceId", "is required (or create: {name, retentionDays}): AVD Insights needs a Log Analytics workspace, an existing one by its ARM id or a new one the program creates");
    }
    let insights: InsightsConfig;
    if (hasId) {
        insights = { kind: "existing", workspaceId: r.str("workspaceId", WORKSPACE_ID) };
        r.optObj("create");
    } else {
        r.optStr("workspaceId");
        const c = r.obj("create");
        insights = { kind: "create", name: c.str("name", WORKSPACE_NAME), retentionDays: c.int("retentionDays", RETENTION_DAYS, 30) };
        c.done();
    }
    r.done();
    return insights;
}
