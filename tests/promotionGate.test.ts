import { strict as assert } from "node:assert";
import { decidePromotion, requirePromotable, PromotionRefusedError, type UpstreamRing } from "../src/promotion/gate";

const prod = { stack: "prod", stackFile: "Pulumi.prod.yaml" };

function pilot(validated: string | undefined, published = ["1.0.0", "1.1.0", "1.2.0"]): UpstreamRing {
    return {
        stack: "contoso/avd-image-rings/pilot",
        galleryId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g",
        galleryName: "g",
        imageDefinitionId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/d",
        publishedImageVersions: published,
        validatedImageVersion: validated,
    };
}

describe("promotion gate", () => {
    it("allows the version the upstream ring validated", () => {
        assert.deepEqual(decidePromotion(prod, "1.2.0", pilot("1.2.0")), { allowed: true, kind: "promotion" });
    });

    it("allows rolling back to an older published version", () => {
        assert.deepEqual(decidePromotion(prod, "1.0.0", pilot("1.2.0")), { allowed: true, kind: "rollback" });
    });

    it("refuses a version ahead of what the upstream ring validated", () => {
        const d = decidePromotion(prod, "1.2.0", pilot("1.1.0"));
        assert.equal(d.allowed, false);
        assert.match(
            (d as { reason: string }).reason,
            /^Pulumi\.prod\.yaml: avd-image-rings:imageVersion 1\.2\.0 is refused: contoso\/avd-image-rings\/pilot has validated 1\.1\.0.*Promote pilot to 1\.2\.0 first/,
        );
    });

    it("refuses a version that was never published", () => {
        const d = decidePromotion(prod, "1.3.0", pilot("1.2.0"));
        assert.equal(d.allowed, false);
        assert.match((d as { reason: string }).reason, /1\.3\.0 was never published to the gallery \(published versions known to .*: 1\.0\.0, 1\.1\.0, 1\.2\.0\)/);
    });

    it("refuses everything while the upstream ring has validated nothing", () => {
        const d = decidePromotion(prod, "1.0.0", pilot(undefined));
        assert.equal(d.allowed, false);
        assert.match((d as { reason: string }).reason, /has not validated any image version yet\. Run `pulumi up -s pilot`/);
    });

    it("compares versions numerically, not as text", () => {
        assert.equal(decidePromotion(prod, "1.10.0", pilot("1.9.0", ["1.9.0", "1.10.0"])).allowed, false);
        assert.deepEqual(decidePromotion(prod, "1.9.0", pilot("1.10.0", ["1.9.0", "1.10.0"])), { allowed: true, kind: "rollback" });
    });

    it("throws a PromotionRefusedError the CLI prints without a stack trace", () => {
        assert.throws(() => requirePromotable(prod, "1.2.0", pilot("1.1.0")), PromotionRefusedError);
        assert.equal(requirePromotable(prod, "1.2.0", pilot("1.2.0")), "promotion");
    });
});
