// The build trigger's release-notes step, after the version is published: what Image Builder built
// from (the template's `source.exactVersion`, 2024-02-01: "differs from 'version' only if the value
// specified in 'version' field is 'latest'"), the steps it ran (the template's `customize`), the
// in-VM inventory from customization.log, and the change from the previous published version (its
// summary tags). The summary goes onto the version as tags through the Tags API (merge, so the
// artifact tags Image Builder set stay); a failure there is reported, never fatal: the image is
// published and usable either way.
import * as semver from "semver";
import { extractInventory } from "../../src/lifecycle/inventory";
import { configFacts, diffFromTags, RELEASE_NOTES_SCHEMA, summaryTags, type ImageInventory, type ReleaseNotes } from "../../src/lifecycle/releaseNotes";
import { ArmError, type ArmClient } from "../azure/arm";
import { optionalString, stringMap } from "../azure/json";
import type { Progress } from "../shared/tool";

// Tags_UpdateAtScope (Microsoft.Resources 2021-04-01): PATCH {scope}/providers/Microsoft.Resources/tags/default
// with {operation: "Merge", properties: {tags}}; answers 200 with the merged tags (newer api-versions may answer 202).
export const TAGS_API_VERSION = "2021-04-01";
/** How long the tag write may take. */
const TAG_DEADLINE_MS = 10 * 60_000;

export interface PublishedVersion {
    name: string;
    tags: Record<string, string>;
}

export interface NotesContext {
    arm: ArmClient;
    progress: Progress;
    imageVersion: string;
    imageVersionId: string;
    /** The template body as Image Builder returns it after the run. */
    template: unknown;
    /** Succeeded versions of the image definition, with their tags. */
    published: PublishedVersion[];
    /** The run's customization.log, or undefined when it cannot be found; throws when it cannot be read. */
    readLog: () => Promise<{ text: string; source: string } | undefined>;
    pollMs: number;
    /** The version existed already (no build ran now). */
    reused: boolean;
}

export async function collectReleaseNotes(ctx: NotesContext): Promise<ReleaseNotes> {
    const source = {
        publisher: optionalString(ctx.template, "properties.source.publisher") ?? "",
        offer: optionalString(ctx.template, "properties.source.offer") ?? "",
        sku: optionalString(ctx.template, "properties.source.sku") ?? "",
        version: optionalString(ctx.template, "properties.source.version") ?? "",
    };
    const customize = (ctx.template as { properties?: { customize?: unknown } } | undefined)?.properties?.customize;
    const current = ctx.published.find((v) => v.name === ctx.imageVersion);
    const taggedExact = current ? tagValue(current.tags, "BaseImageVersion") : undefined;
    // A reused version keeps what its own build recorded; the template's exactVersion is of the newest run.
    const exact = (ctx.reused ? taggedExact : undefined) ?? optionalString(ctx.template, "properties.source.exactVersion") ?? (/^latest$/i.test(source.version) ? undefined : source.version);

    const problems: string[] = [];
    let inventory: ImageInventory | undefined;
    try {
        const log = await ctx.readLog();
        if (log) {
            const found = extractInventory(log.text);
            inventory = found.inventory;
            problems.push(...found.problems.map((p) => `${p} (${log.source})`));
        } else {
            problems.push("no customization.log was found in the staging resource group, so the in-VM inventory is missing");
        }
    } catch (e) {
        problems.push(`customization.log could not be read (${e instanceof ArmError ? `${e.code}: ${e.armMessage}` : e instanceof Error ? e.message : String(e)}), so the in-VM inventory is missing`);
    }

    const notes: ReleaseNotes = {
        schema: RELEASE_NOTES_SCHEMA,
        imageVersion: ctx.imageVersion,
        imageVersionId: ctx.imageVersionId,
        ...(exact ? { baseImageExactVersion: exact } : {}),
        config: configFacts(source, Array.isArray(customize) ? customize : []),
        ...(inventory ? { inventory } : {}),
        problems,
    };
    const previous = ctx.published.filter((v) => semver.valid(v.name) && semver.lt(v.name, ctx.imageVersion)).sort((a, b) => semver.compare(a.name, b.name)).pop();
    if (previous) notes.changes = diffFromTags(previous.name, previous.tags, notes);

    for (const p of problems) ctx.progress.line(`release notes: ${p}`);
    await tagVersion(ctx, notes);
    return notes;
}

function tagValue(tags: Record<string, string>, name: string): string | undefined {
    return Object.entries(tags).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

/** Merges the summary tags onto the version; only tags whose value differs are sent. */
async function tagVersion(ctx: NotesContext, notes: ReleaseNotes): Promise<void> {
    const existing = ctx.published.find((v) => v.name === ctx.imageVersion)?.tags ?? {};
    const wanted = summaryTags(notes);
    // A reused version without an inventory keeps the tags its build wrote.
    const tags = Object.fromEntries(Object.entries(wanted).filter(([k, v]) => tagValue(existing, k) !== v && !(ctx.reused && tagValue(existing, k) !== undefined)));
    if (Object.keys(tags).length === 0) return;
    const deadline = ctx.arm.clock.now() + TAG_DEADLINE_MS;
    try {
        await ctx.arm.lro("PATCH", `${ctx.imageVersionId}/providers/Microsoft.Resources/tags/default`, {
            apiVersion: TAGS_API_VERSION,
            body: { operation: "Merge", properties: { tags } },
            pollIntervalMs: ctx.pollMs,
            timeoutMs: TAG_DEADLINE_MS,
            deadline,
        });
        ctx.progress.line(`release notes: tagged image version ${ctx.imageVersion} with ${Object.keys(tags).join(", ")}`);
    } catch (e) {
        const reason = e instanceof ArmError ? `${e.code}: ${e.armMessage}` : e instanceof Error ? e.message : String(e);
        notes.problems.push(`the summary tags could not be set on the version (${reason}); the notes are complete in the stack output`);
        ctx.progress.line(`release notes: could not tag image version ${ctx.imageVersion} (${reason}); the version is published and usable, the notes are in the stack output`);
    }
}

/** Succeeded versions of an image definition with their tags, from the versions list. */
export function publishedWithTags(items: readonly unknown[]): PublishedVersion[] {
    return items
        .filter((v) => /^succeeded$/i.test(optionalString(v, "properties.provisioningState") ?? ""))
        .map((v) => ({ name: optionalString(v, "name") ?? "", tags: stringMap(v, "tags") }))
        .filter((v) => semver.valid(v.name) !== null)
        .sort((a, b) => semver.compare(a.name, b.name));
}
