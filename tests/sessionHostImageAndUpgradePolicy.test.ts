import { strict as assert } from "node:assert";
import type { RollingUpgradeConfig, UpgradeMode } from "../src/config/types";
import { marketplaceImageReference, sessionHostImageReferenceId } from "../src/sessionHosts/imageReference";
import { scaleSetUpgradePolicy } from "../src/sessionHosts/upgradePolicy";

const definition = "/subscriptions/8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f/resourceGroups/rg-avd-images-test/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365";
const version = `${definition}/versions/1.2.0`;

describe("session-host image reference", () => {
    it("pins the ring's image version by default", () => {
        assert.equal(sessionHostImageReferenceId(false, { imageDefinitionId: definition, imageVersionId: version }), version);
    });

    it("follows the definition's latest version only when the ring opts in with useLatestImage", () => {
        assert.equal(sessionHostImageReferenceId(true, { imageDefinitionId: definition, imageVersionId: version }), definition);
    });

    it("names a marketplace pool's image by publisher, offer, SKU and version, without an id", () => {
        const pinned = { publisher: "MicrosoftWindowsDesktop", offer: "office-365", sku: "win11-24h2-avd-m365", version: "26100.2605.241207" };
        assert.deepEqual(marketplaceImageReference(pinned), pinned);
        const withId = { ...pinned, id: definition };
        assert.deepEqual(marketplaceImageReference(withId), pinned, "a reference with both an id and publisher/offer/sku is not what Azure accepts");
    });
});

describe("scale-set upgrade policy", () => {
    const prodRolling: RollingUpgradeConfig = {
        maxBatchInstancePercent: 10,
        maxUnhealthyInstancePercent: 10,
        maxUnhealthyUpgradedInstancePercent: 5,
        pauseTimeBetweenBatches: "PT15M",
        prioritizeUnhealthyInstances: true,
        maxSurge: false,
        rollbackFailedInstancesOnPolicyBreach: true,
    };

    it("maps every rolling-upgrade setting onto Azure's field of the same name", () => {
        const policy = scaleSetUpgradePolicy({ upgradeMode: "Rolling", rollingUpgrade: prodRolling });
        assert.deepEqual(policy.rollingUpgradePolicy, prodRolling);
    });

    it("carries the configured batch, pause and surge settings, not defaults", () => {
        const surging: RollingUpgradeConfig = { ...prodRolling, maxBatchInstancePercent: 34, pauseTimeBetweenBatches: "PT1H30M", maxSurge: true };
        const policy = scaleSetUpgradePolicy({ upgradeMode: "Rolling", rollingUpgrade: surging });
        assert.equal(policy.rollingUpgradePolicy.maxBatchInstancePercent, 34);
        assert.equal(policy.rollingUpgradePolicy.pauseTimeBetweenBatches, "PT1H30M");
        assert.equal(policy.rollingUpgradePolicy.maxSurge, true);
    });

    for (const mode of ["Manual", "Rolling", "Automatic"] as UpgradeMode[]) {
        it(`sets mode ${mode} and still records the rolling policy the rollout tool and policy pack read`, () => {
            const policy = scaleSetUpgradePolicy({ upgradeMode: mode, rollingUpgrade: prodRolling });
            assert.equal(policy.mode, mode);
            assert.equal(policy.rollingUpgradePolicy.maxUnhealthyUpgradedInstancePercent, 5);
        });
    }

    it("never lets Azure roll new image versions out on its own schedule", () => {
        const policy = scaleSetUpgradePolicy({ upgradeMode: "Automatic", rollingUpgrade: prodRolling });
        assert.equal(policy.automaticOSUpgradePolicy.enableAutomaticOSUpgrade, false);
    });
});
