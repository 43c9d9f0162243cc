// The build trigger's release notes against the fake Azure: the exact base image version Image
// Builder resolved, the inventory from a recorded customization.log, the summary tags on the
// published version, the change from the previous version, and failures that never fail a build.
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { VirtualClock } from "../tools/azure/clock";
import { main, type BuildResult } from "../tools/buildImage";
import { PROGRAM_TAG_COUNT, PROGRAM_TAGS, TAG_LIMITS } from "../src/config/azureLimits";
import { RELEASE_NOTES_TAGS } from "../src/lifecycle/releaseNotes";
import { GalleryModule } from "./fakeAzure/gallery";
import { ImageBuilderModule } from "./fakeAzure/imageBuilder";
import { MarketplaceModule } from "./fakeAzure/marketplace";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure } from "./fakeAzure/server";

const RG = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images-test`;
const TEMPLATE = `${RG}/providers/Microsoft.VirtualMachineImages/imageTemplates/avd-golden-1-3-0`;
const DEFINITION = `${RG}/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365`;
const VERSION_ID = `${DEFINITION}/versions/1.3.0`;
const HASH = createHash("sha256").update("content of 1.3.0").digest("hex");
const TOKEN = "test-token";
const LOG = readFileSync(join(__dirname, "fixtures", "releaseNotes", "customization.log"), "utf8");
const BASE = { location: "westeurope", publisher: "MicrosoftWindowsDesktop", offer: "office-365", sku: "win11-24h2-avd-m365" };

/** The summary tags version 1.2.0 got from its own build. */
const PREVIOUS_TAGS = {
    ContentHash: createHash("sha256").update("content of 1.2.0").digest("hex"),
    BaseImageVersion: "26100.2033.241004",
    OsBuild: "26100.2033",
    Hotfixes: "KB5043080,KB5044284",
    Packages: "7zip=24.9.0,7zip.install=24.9.0,adobereader=2024.5.20320,chocolatey=2.4.1,chocolatey-core.extension=1.4.0,googlechrome=131.0.6778.140,microsoft-teams-new-bootstrapper=1.0.2414501",
    Steps: "InstallApps:1f2e3d4c",
};

interface World {
    clock: VirtualClock;
    fake: FakeAzure;
    gallery: GalleryModule;
    aib: ImageBuilderModule;
}

async function world(): Promise<World> {
    const clock = new VirtualClock();
    const gallery = new GalleryModule();
    const marketplace = new MarketplaceModule();
    const aib = new ImageBuilderModule({ gallery, marketplace });
    const fake = await startFakeAzure({ clock, acceptToken: TOKEN }, [gallery, aib, marketplace]);
    marketplace.addVersions(BASE, ["26100.2033.241004", "26100.2314.241107", "26100.2161.241010"]);
    aib.addTemplate({ id: TEMPLATE, galleryImageVersionId: VERSION_ID, artifactTags: { ContentHash: HASH, ImageVersion: "1.3.0" } });
    gallery.addVersion({ id: `${DEFINITION}/versions/1.2.0`, tags: PREVIOUS_TAGS });
    return { clock, fake, gallery, aib };
}

async function build(w: World): Promise<{ code: number; stderr: string[]; result?: BuildResult }> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const env = {
        AZURE_RESOURCE_MANAGER_ENDPOINT: w.fake.url,
        AVD_ARM_ACCESS_TOKEN: TOKEN,
        AVD_IMAGE_TEMPLATE_ID: TEMPLATE,
        AVD_GALLERY_IMAGE_VERSION_ID: VERSION_ID,
        AVD_CONTENT_HASH: HASH,
        AVD_BUILD_TIMEOUT_MINUTES: "120",
        AVD_POLL_SECONDS: "60",
    };
    const code = await main(env, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { clock: w.clock });
    const last = stdout[stdout.length - 1];
    return { code, stderr, result: code === 0 && last ? (JSON.parse(last) as BuildResult) : undefined };
}

describe("build trigger release notes (tools/buildImage.ts against the fake)", () => {
    let w: World;
    afterEach(async () => {
        await w?.fake.stop();
    });

    it("records the marketplace version Image Builder resolved 'latest' to, in the result and as a tag", async () => {
        w = await world();
        w.aib.scriptNextRun(TEMPLATE, { customizationLog: LOG });
        const run = await build(w);
        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.equal(run.result?.baseImageExactVersion, "26100.2314.241107", "the newest of the SKU's versions, compared numerically");
        assert.equal(run.result?.releaseNotes.baseImageExactVersion, "26100.2314.241107");
        assert.equal(w.gallery.version(VERSION_ID)?.tags.BaseImageVersion, "26100.2314.241107");
        assert.deepEqual(w.fake.violations, []);
    });

    it("extracts the inventory from the recorded customization.log and tags its summary on the version, keeping the artifact tags", async () => {
        w = await world();
        w.aib.scriptNextRun(TEMPLATE, { customizationLog: LOG });
        const run = await build(w);
        assert.equal(run.code, 0, run.stderr.join("\n"));
        const notes = run.result?.releaseNotes;
        assert.ok(notes?.inventory, `inventory extracted; problems: ${notes?.problems.join("; ")}`);
        assert.equal(notes.inventory.os?.ubr, 2314);
        assert.deepEqual(notes.problems, []);
        const tags = w.gallery.version(VERSION_ID)?.tags ?? {};
        assert.equal(tags.ContentHash, HASH, "Image Builder's artifact tags stay (merge, not replace)");
        assert.equal(tags.OsBuild, "26100.2314");
        assert.equal(tags.Hotfixes, "KB5044033,KB5046617,KB5046740");
        assert.match(tags.Packages, /googlechrome=132\.0\.6834\.83/);
        assert.match(tags.Steps, /^InstallApps:[0-9a-f]{8}$/, "the seeded template's one step");
        for (const [k, v] of Object.entries(tags)) assert.ok(v.length <= TAG_LIMITS.maxValueLength, `${k} fits Azure's 256 characters`);
        const patches = w.fake.requestsMatching("PATCH", /\/providers\/Microsoft\.Resources\/tags\/default$/);
        assert.equal(patches.length, 1);
        assert.match(patches[0].query, /api-version=2021-04-01/);
        assert.deepEqual(w.fake.violations, []);
    });

    it("says what changed from the previous published version, from its summary tags", async () => {
        w = await world();
        w.aib.scriptNextRun(TEMPLATE, { customizationLog: LOG });
        const run = await build(w);
        const changes = run.result?.releaseNotes.changes;
        assert.ok(changes);
        assert.equal(changes.from, "1.2.0");
        assert.equal(changes.basis, "tags");
        assert.deepEqual(changes.baseImageVersion, { name: "base image version", from: "26100.2033.241004", to: "26100.2314.241107" });
        assert.deepEqual(changes.osBuild, { name: "OS build", from: "26100.2033", to: "26100.2314" });
        assert.deepEqual(
            changes.hotfixes.map((h) => [h.name, h.from === undefined ? "+" : "-"]),
            [["KB5043080", "-"], ["KB5044033", "+"], ["KB5044284", "-"], ["KB5046617", "+"], ["KB5046740", "+"]],
        );
        assert.deepEqual(changes.chocolatey.find((c) => c.name === "googlechrome"), { name: "googlechrome", from: "131.0.6778.140", to: "132.0.6834.83" });
        assert.deepEqual(changes.chocolatey.find((c) => c.name === "vlc"), { name: "vlc", to: "3.0.21" });
        assert.deepEqual(changes.steps, [{ name: "InstallApps", from: "1f2e3d4c", to: run.result?.releaseNotes.config.steps[0].sha256.slice(0, 8) }]);
    });

    it("publishes without an inventory when the log has no inventory block, and says why", async () => {
        w = await world();
        const run = await build(w);
        assert.equal(run.code, 0, run.stderr.join("\n"));
        const notes = run.result?.releaseNotes;
        assert.equal(notes?.inventory, undefined);
        assert.match(notes?.problems.join("\n") ?? "", /has no inventory block/);
        assert.match(run.stderr.join("\n"), /release notes: customization\.log has no inventory block/);
        const tags = w.gallery.version(VERSION_ID)?.tags ?? {};
        assert.equal(tags.OsBuild, undefined, "no tag is set to a value that is not known");
        assert.equal(tags.BaseImageVersion, "26100.2314.241107");
    });

    it("never fails the build when the tags cannot be written", async () => {
        w = await world();
        w.aib.scriptNextRun(TEMPLATE, { customizationLog: LOG });
        w.fake.injectFailure({ method: "PATCH", path: /\/providers\/Microsoft\.Resources\/tags\/default$/, status: 403, code: "AuthorizationFailed", message: "The client does not have authorization to perform action 'Microsoft.Resources/tags/write'." });
        const run = await build(w);
        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.match(run.result?.releaseNotes.problems.join("\n") ?? "", /summary tags could not be set on the version \(AuthorizationFailed/);
        assert.match(run.stderr.join("\n"), /could not tag image version 1\.3\.0 .*published and usable/);
        assert.ok(run.result?.releaseNotes.inventory, "the notes are complete in the result");
    });

    it("for an already published version keeps its recorded base image version and does not overwrite its tags", async () => {
        w = await world();
        w.gallery.addVersion({ id: VERSION_ID, tags: { ContentHash: HASH, BaseImageVersion: "26100.2161.241010", OsBuild: "26100.2161" } });
        const run = await build(w);
        assert.equal(run.code, 0, run.stderr.join("\n"));
        assert.equal(run.result?.reusedExistingVersion, true);
        assert.equal(run.result?.baseImageExactVersion, "26100.2161.241010");
        assert.equal(w.gallery.version(VERSION_ID)?.tags.OsBuild, "26100.2161");
    });

    it("counts the release-notes tags among the tags the program sets on a version", () => {
        for (const t of RELEASE_NOTES_TAGS) assert.ok((PROGRAM_TAGS as readonly string[]).includes(t), `${t} is reserved from image.tags`);
        assert.equal(PROGRAM_TAG_COUNT.imageVersion, 4 + RELEASE_NOTES_TAGS.length);
    });
});
