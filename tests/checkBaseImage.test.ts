// `npm run check-base-image` against the fake Azure: the build ring's base image from
// Pulumi.test.yaml, the version the last build used (the gallery version's BaseImageVersion tag, or
// --used), the marketplace's newest version; exit 1 when newer, 0 when current, 2 when it cannot tell.
import * as assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { VirtualClock } from "../tools/azure/clock";
import { compareMarketplaceVersions, main } from "../scripts/checkBaseImage";
import { PROJECT } from "../src/config/parse";
import { GalleryModule } from "./fakeAzure/gallery";
import { MarketplaceModule } from "./fakeAzure/marketplace";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure } from "./fakeAzure/server";

const ROOT = join(__dirname, "..");
const TOKEN = "check-token";
// Pulumi.test.yaml: resource group rg-avd-images-test, gallery avd_golden_images, definition avd-win11-m365, westeurope.
const DEFINITION = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images-test/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365`;
const SKU = { location: "westeurope", publisher: "MicrosoftWindowsDesktop", offer: "office-365", sku: "win11-24h2-avd-m365" };

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
        assert.match(r.out, /default: newer base image MicrosoftWindowsDesktop:office-365:win11-24h2-avd-m365:26100\.2314\.241107 in westeurope \(the last build used 26100\.2033\.241004, from the BaseImageVersion tag of gallery version 1\.1\.0\)/);
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
        const r = await check(w, ["--stack", "test", "--used", "26100.2314.241107", "--json"]);
        assert.equal(r.code, 0, r.err);
        assert.equal(w.fake.requestsMatching("GET", /\/images\/avd-win11-m365\/versions$/).length, 0);
        const json = JSON.parse(r.out.split("\n").pop() ?? "") as { images: Array<{ used: string; newest: string; newer: boolean; usedFrom: string }> };
        assert.deepEqual(json.images.map((i) => [i.used, i.newest, i.newer, i.usedFrom]), [["26100.2314.241107", "26100.2314.241107", false, "--used"]]);
    });

    it("falls back to a pinned image.baseImage.version and says to bump the pin", async () => {
        w = await world();
        const dir = projectWith((t) => t.replace("      version: latest", "      version: 26100.2161.241010"));
        w.gallery.remove(`${DEFINITION}/versions/1.1.0`);
        const r = await check(w, ["--stack", "test"], { projectDir: dir });
        assert.equal(r.code, 1, r.err);
        assert.match(r.out, /the last build used 26100\.2161\.241010, from image\.baseImage\.version in Pulumi\.test\.yaml/);
        assert.match(r.out, /image\.baseImage\.version is pinned to 26100\.2161\.241010, set it to 26100\.2314\.241107 \(or "latest"\) in Pulumi\.test\.yaml/);
    });

    it("checks every image of a fleet build ring, or the one --image names", async () => {
        w = await world();
        const kioskSku = { ...SKU, offer: "windows-11", sku: "win11-24h2-ent" };
        w.marketplace.addVersions(kioskSku, ["26100.2314.241107"]);
        const kioskDefinition = DEFINITION.replace(/avd-win11-m365$/, "avd-win11-kiosk");
        w.gallery.addVersion({ id: `${kioskDefinition}/versions/2.0.0`, tags: { BaseImageVersion: "26100.2314.241107" } });
        const dir = projectWith((text) => {
            const doc = parseYaml(text) as { config: Record<string, unknown> };
            const c = doc.config;
            const image = c[`${PROJECT}:image`] as { gallery: Record<string, string> } & Record<string, unknown>;
            const { name: galleryName, imageDefinitionName, ...rest0 } = image.gallery;
            const definition = { ...rest0, name: imageDefinitionName };
            const { gallery: _, ...rest } = image;
            const win11 = { ...rest, imageDefinition: definition };
            const kiosk = { ...rest, imageDefinition: { ...definition, name: "avd-win11-kiosk", sku: "Win11-24H2-Kiosk" }, baseImage: { publisher: kioskSku.publisher, offer: kioskSku.offer, sku: kioskSku.sku, version: "latest" } };
            const sessionHosts = c[`${PROJECT}:sessionHosts`] as Record<string, unknown>;
            const fleet: Record<string, unknown> = { ...c };
            for (const k of ["image", "imageVersion", "sessionHosts"]) delete fleet[`${PROJECT}:${k}`];
            fleet[`${PROJECT}:gallery`] = { name: galleryName };
            fleet[`${PROJECT}:images`] = { win11, kiosk };
            fleet[`${PROJECT}:imageVersions`] = { win11: "1.2.0", kiosk: "2.0.0" };
            fleet[`${PROJECT}:hostPools`] = { office: { ...sessionHosts, image: "win11" }, kiosk: { ...sessionHosts, computerNamePrefix: "avdkio", image: "kiosk" } };
            return stringifyYaml({ ...doc, config: fleet });
        });
        const both = await check(w, ["--stack", "test"], { projectDir: dir });
        assert.equal(both.code, 1, both.err);
        assert.match(both.out, /^win11: newer base image .*26100\.2314\.241107/m);
        assert.match(both.out, /^kiosk: base image MicrosoftWindowsDesktop:windows-11:win11-24h2-ent is current/m);
        const kioskOnly = await check(w, ["--stack", "test", "--image", "kiosk"], { projectDir: dir });
        assert.equal(kioskOnly.code, 0, kioskOnly.err);
        assert.equal((await check(w, ["--stack", "test", "--image", "nope"], { projectDir: dir })).code, 2);
    });

    it("exits 2 when it cannot tell: no recorded version, unknown SKU, no subscription, a promoted ring, bad arguments", async () => {
        w = await world();
        w.gallery.remove(`${DEFINITION}/versions/1.1.0`);
        const none = await check(w, ["--stack", "test"]);
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
        const badFile = await check(w, ["--stack", "test"], { projectDir: projectWith((t) => t.replace("imageVersion: 1.2.0", "imageVersion: 1.2")) });
        assert.equal(badFile.code, 2);
        assert.match(badFile.err, /Pulumi\.test\.yaml: avd-image-rings:imageVersion must be a MAJOR\.MINOR\.PATCH version/);
    });

    it("compares marketplace versions numerically, segment by segment", () => {
        assert.ok(compareMarketplaceVersions("26100.2314.241107", "26100.999.240901") > 0);
        assert.ok(compareMarketplaceVersions("22631.4460.241106", "26100.1.1") < 0);
        assert.equal(compareMarketplaceVersions("1.2.3", "1.2.3"), 0);
    });
});
