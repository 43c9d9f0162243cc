// `npm run check-base-image` against the fake Azure: the build ring's base image from
// Pulumi.test.yaml, the version the last build used (the gallery version's BaseImageVersion tag, or
// --used), the marketplace's newest version; exit 1 when newer, 0 when current, 2 when it cannot tell.
import * as assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VirtualClock } from "../tools/azure/clock";
import { compareMarketplaceVersions, main } from "../scripts/checkBaseImage";
import { GalleryModule } from "./fakeAzure/gallery";
import { MarketplaceModule } from "./fakeAzure/marketplace";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure } from "./fakeAzure/server";

const ROOT = join(__dirname, "..");
const TOKEN = "check-token";
// Pulumi.test.yaml (a fleet): resource group rg-avd-images-test, gallery avd_golden_images, images m365
// (definition avd-win11-m365) and dev (avd-win11-dev), westeurope.
const DEFINITION = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images-test/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365`;
const SKU = { location: "westeurope", publisher: "MicrosoftWindowsDesktop", offer: "office-365", sku: "win11-24h2-avd-m365" };
const DEV_DEFINITION = DEFINITION.replace(/avd-win11-m365$/, "avd-win11-dev");
const DEV_SKU = { ...SKU, offer: "windows-11", sku: "win11-24h2-avd" };

interface World {
    fake: FakeAzure;
    gallery: GalleryModule;
    marketplace: MarketplaceModule;
    clock: VirtualClock;
}

async function world(): Promise<World> {
    const clock = new VirtualClock();
    const gallery = new GalleryModule();
    const marketplace = new MarketplaceModule();
    const fake = await startFakeAzure({ clock, acceptToken: TOKEN }, [gallery, marketplace]);
    marketplace.addVersions(SKU, ["26100.2033.241004", "26100.2314.241107", "26100.2161.241010", "26100.999.240901"]);
    gallery.addVersion({ id: `${DEFINITION}/versions/1.1.0`, tags: { BaseImageVersion: "26100.2033.241004" } });
    // The fleet's second image, dev, is current.
    marketplace.addVersions(DEV_SKU, ["26100.2161.241010", "26100.2314.241107"]);
    gallery.addVersion({ id: `${DEV_DEFINITION}/versions/1.1.0`, tags: { BaseImageVersion: "26100.2314.241107" } });
    return { fake, gallery, marketplace, clock };
}

async function check(w: World, argv: string[], options: { projectDir?: string; env?: Record<string, string> } = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const env = { AZURE_RESOURCE_MANAGER_ENDPOINT: w.fake.url, AVD_ARM_ACCESS_TOKEN: TOKEN, ARM_SUBSCRIPTION_ID: FAKE_SUBSCRIPTION_ID, ...options.env };
    const code = await main(argv, env, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) }, { clock: w.clock, projectDir: options.projectDir });
    return { code, out: out.join("\n"), err: err.join("\n") };
}

/** A copy of the project's stack files with Pulumi.test.yaml changed by `edit`. */
function projectWith(edit: (text: string) => string): string {
    const dir = mkdtempSync(join(tmpdir(), "check-base-image-"));
    for (const f of ["Pulumi.yaml", "Pulumi.test.yaml", "Pulumi.pilot.yaml"]) cpSync(join(ROOT, f), join(dir, f));
    writeFileSync(join(dir, "Pulumi.test.yaml"), edit(readFileSync(join(ROOT, "Pulumi.test.yaml"), "utf8")));
    return dir;
}

describe("npm run check-base-image", () => {
    let w: World;
    afterEach(async () => {
        await w?.fake.stop();
    });

    it("exits 1 and names the newer version when the marketplace has a newer one than the last build used", async () => {
        w = await world();
        const r = await check(w, ["--stack", "test"]);
        assert.equal(r.code, 1, r.err);
        assert.match(r.out, /^m365: newer base image MicrosoftWindowsDesktop:office-365:win11-24h2-avd-m365:26100\.2314\.241107 in westeurope \(the last build used 26100\.2033\.241004, from the BaseImageVersion tag of gallery version 1\.1\.0\)/m);
        assert.match(r.out, /^dev: base image MicrosoftWindowsDesktop:windows-11:win11-24h2-avd is current/m, "every image of the fleet is checked");
        const list = w.fake.requestsMatching("GET", /\/artifacttypes\/vmimage\/offers\/office-365\/skus\/win11-24h2-avd-m365\/versions$/);
        assert.equal(list.length, 1);
        assert.match(list[0].query, /api-version=2024-11-01/);
        assert.deepEqual(w.fake.violations, []);
    });

    it("exits 0 when the newest published version was built from the newest marketplace version", async () => {
        w = await world();
        w.gallery.addVersion({ id: `${DEFINITION}/versions/1.2.0`, tags: { BaseImageVersion: "26100.2314.241107" } });
        // A newer version without the tag (built before the tag existed) does not hide the tagged one.
        w.gallery.addVersion({ id: `${DEFINITION}/versions/1.2.1`, tags: {} });
        const r = await check(w, ["--stack", "test"]);
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, /base image MicrosoftWindowsDesktop:office-365:win11-24h2-avd-m365 is current: 26100\.2314\.241107 \(from the BaseImageVersion tag of gallery version 1\.2\.0\)/);
    });

    it("takes the used version from --used, without reading the gallery, and prints JSON with --json", async () => {
        w = await world();
        const r = await check(w, ["--stack", "test", "--image", "m365", "--used", "26100.2314.241107", "--json"]);
        assert.equal(r.code, 0, r.err);
        assert.equal(w.fake.requestsMatching("GET", /\/images\/avd-win11-m365\/versions$/).length, 0);
        const json = JSON.parse(r.out.split("\n").pop() ?? "") as { images: Array<{ used: string; newest: string; newer: boolean; usedFrom: string }> };
        assert.deepEqual(json.images.map((i) => [i.used, i.newest, i.newer, i.usedFrom]), [["26100.2314.241107", "26100.2314.241107", false, "--used"]]);
    });

    it("falls back to a pinned image.baseImage.version and says to bump the pin", async () => {
        w = await world();
        const dir = projectWith((t) => t.replace("      version: latest", "      version: 26100.2161.241010"));
        w.gallery.remove(`${DEFINITION}/versions/1.1.0`);
        const r = await check(w, ["--stack", "test", "--image", "m365"], { projectDir: dir });
        assert.equal(r.code, 1, r.err);
        assert.match(r.out, /the last build used 26100\.2161\.241010, from image\.baseImage\.version in Pulumi\.test\.yaml/);
        assert.match(r.out, /image\.baseImage\.version is pinned to 26100\.2161\.241010, set it to 26100\.2314\.241107 \(or "latest"\) in Pulumi\.test\.yaml/);
    });

    it("checks only the image --image names, and refuses an unknown one", async () => {
        w = await world();
        const dev = await check(w, ["--stack", "test", "--image", "dev"]);
        assert.equal(dev.code, 0, dev.err);
        assert.doesNotMatch(dev.out, /m365/);
        const nope = await check(w, ["--stack", "test", "--image", "nope"]);
        assert.equal(nope.code, 2);
        assert.match(nope.err, /builds no image named "nope"/);
    });

    it("exits 2 when it cannot tell: no recorded version, unknown SKU, no subscription, a promoted ring, bad arguments", async () => {
        w = await world();
        w.gallery.remove(`${DEFINITION}/versions/1.1.0`);
        const none = await check(w, ["--stack", "test", "--image", "m365"]);
        assert.equal(none.code, 2);
        assert.match(none.err, /no published version of avd-win11-m365 records its base image version .* pass --used <version>/);

        const unknown = await check(w, ["--stack", "test", "--used", "26100.1.1"], { projectDir: projectWith((t) => t.replace("sku: win11-24h2-avd-m365", "sku: win11-25h2-avd-m365")) });
        assert.equal(unknown.code, 2);
        assert.match(unknown.err, /Azure answered 404 NotFound: Artifact: VMImage was not found/);

        const noSubscription = await check(w, ["--stack", "test", "--used", "26100.1.1"], { env: { ARM_SUBSCRIPTION_ID: "" } });
        assert.equal(noSubscription.code, 2);
        assert.match(noSubscription.err, /set ARM_SUBSCRIPTION_ID/);

        const promoted = await check(w, ["--stack", "pilot"]);
        assert.equal(promoted.code, 2);
        assert.match(promoted.err, /Pulumi\.pilot\.yaml is not the build ring/);

        for (const argv of [[], ["--stack"], ["--stack", "test", "--used", "latest"], ["--stack", "test", "--bogus"]]) {
            const bad = await check(w, argv);
            assert.equal(bad.code, 2, argv.join(" "));
            assert.match(bad.err, /usage: npm run check-base-image/);
        }
        const badFile = await check(w, ["--stack", "test"], { projectDir: projectWith((t) => t.replace("m365: 1.2.0", "m365: 1.2")) });
        assert.equal(badFile.code, 2);
        assert.match(badFile.err, /Pulumi\.test\.yaml: avd-image-rings:imageVersions\.m365 must be a MAJOR\.MINOR\.PATCH version/);
    });

    it("compares marketplace versions numerically, segment by segment", () => {
        assert.ok(compareMarketplaceVersions("26100.2314.241107", "26100.999.240901") > 0);
        assert.ok(compareMarketplaceVersions("22631.4460.241106", "26100.1.1") < 0);
        assert.equal(compareMarketplaceVersions("1.2.3", "1.2.3"), 0);
    });
});
