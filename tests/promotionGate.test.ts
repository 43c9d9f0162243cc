import { strict as assert } from "node:assert";
import { decidePromotion, requirePromotable, PromotionRefusedError, type UpstreamRing } from "../src/promotion/gate";

const prod = { stack: "prod", stackFile: "Pulumi.prod.yaml", form: "single" } as const;
const fleetProd = { stack: "prod", stackFile: "Pulumi.prod.yaml", form: "fleet" } as const;
const GALLERY = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g";

function upstream(images: UpstreamRing["images"]): UpstreamRing {
    return { stack: "contoso/avd-image-rings/pilot", galleryId: GALLERY, galleryName: "g", images };
}

/** A single-image upstream ring: its image is `default`. */
function pilot(validated: string | undefined, published = ["1.0.0", "1.1.0", "1.2.0"]): UpstreamRing {
    return upstream({ default: { imageDefinitionId: `${GALLERY}/images/d`, publishedImageVersions: published, validatedImageVersion: validated } });
}

/** A fleet upstream: m365 validated on 1.3.0, cad on 2.0.0. */
const fleetPilot = upstream({
    m365: { imageDefinitionId: `${GALLERY}/images/avd-win11-m365`, publishedImageVersions: ["1.2.0", "1.3.0"], validatedImageVersion: "1.3.0" },
    cad: { imageDefinitionId: `${GALLERY}/images/avd-win11-cad`, publishedImageVersions: ["1.0.0", "2.0.0", "2.1.0"], validatedImageVersion: "2.0.0" },
});

describe("promotion gate", () => {
    it("allows the version the upstream ring validated", () => {
        assert.deepEqual(decidePromotion(prod, "default", "1.2.0", pilot("1.2.0")), { allowed: true, kind: "promotion" });
    });

    it("allows rolling back to an older published version", () => {
        assert.deepEqual(decidePromotion(prod, "default", "1.0.0", pilot("1.2.0")), { allowed: true, kind: "rollback" });
    });

    it("refuses a version ahead of what the upstream ring validated", () => {
        const d = decidePromotion(prod, "default", "1.2.0", pilot("1.1.0"));
        assert.equal(d.allowed, false);
        assert.match(
            (d as { reason: string }).reason,
            /^Pulumi\.prod\.yaml: avd-image-rings:imageVersion 1\.2\.0 is refused: contoso\/avd-image-rings\/pilot has validated 1\.1\.0.*Promote pilot to 1\.2\.0 first/,
        );
    });

    it("refuses a version that was never published", () => {
        const d = decidePromotion(prod, "default", "1.3.0", pilot("1.2.0"));
        assert.equal(d.allowed, false);
        assert.match((d as { reason: string }).reason, /1\.3\.0 was never published to the gallery \(published versions known to .*: 1\.0\.0, 1\.1\.0, 1\.2\.0\)/);
    });

    it("refuses everything while the upstream ring has validated nothing", () => {
        const d = decidePromotion(prod, "default", "1.0.0", pilot(undefined));
        assert.equal(d.allowed, false);
        assert.match((d as { reason: string }).reason, /has not validated any image version yet\. Run `pulumi up -s pilot`/);
    });

    it("compares versions numerically, not as text", () => {
        assert.equal(decidePromotion(prod, "default", "1.10.0", pilot("1.9.0", ["1.9.0", "1.10.0"])).allowed, false);
        assert.deepEqual(decidePromotion(prod, "default", "1.9.0", pilot("1.10.0", ["1.9.0", "1.10.0"])), { allowed: true, kind: "rollback" });
    });

    it("throws a PromotionRefusedError the CLI prints without a stack trace", () => {
        assert.throws(() => requirePromotable({ ...prod, imageVersions: { default: "1.2.0" } }, pilot("1.1.0")), PromotionRefusedError);
        assert.deepEqual(requirePromotable({ ...prod, imageVersions: { default: "1.2.0" } }, pilot("1.2.0")), { default: "promotion" });
    });
});

describe("promotion gate, per image of a fleet", () => {
    it("decides every image on its own: one promoted, one rolled back", () => {
        assert.deepEqual(requirePromotable({ ...fleetProd, imageVersions: { m365: "1.3.0", cad: "1.0.0" } }, fleetPilot), { m365: "promotion", cad: "rollback" });
    });

    it("refuses an image moved ahead of its upstream, naming that image and its key, and says the others were allowed", () => {
        const err = (() => {
            try {
                requirePromotable({ ...fleetProd, imageVersions: { m365: "1.3.0", cad: "2.1.0" } }, fleetPilot);
            } catch (e) {
                return e as Error;
            }
            assert.fail("cad 2.1.0 is ahead of pilot's validated 2.0.0");
        })();
        assert.ok(err instanceof PromotionRefusedError);
        assert.match(err.message, /^Pulumi\.prod\.yaml: avd-image-rings:imageVersions\.cad 2\.1\.0 is refused: contoso\/avd-image-rings\/pilot has validated 2\.0\.0 of image cad/);
        assert.doesNotMatch(err.message.split("\n")[0], /m365/, "the refusal is about cad only");
        assert.match(err.message, /the other images' versions are allowed: m365 1\.3\.0 \(promotion\)/);
    });

    it("refuses an image the upstream ring does not run", () => {
        const d = decidePromotion(fleetProd, "gpu", "1.0.0", fleetPilot);
        assert.equal(d.allowed, false);
        assert.match((d as { reason: string }).reason, /avd-image-rings:imageVersions\.gpu 1\.0\.0 is refused: .* runs no image named "gpu" \(its images: m365, cad\)/);
    });

    it("names the image in a never-published refusal", () => {
        const d = decidePromotion(fleetProd, "m365", "1.4.0", fleetPilot);
        assert.match((d as { reason: string }).reason, /published versions of m365 known to .*: 1\.2\.0, 1\.3\.0/);
    });
});
