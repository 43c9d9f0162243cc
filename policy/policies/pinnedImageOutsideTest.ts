import type { ResourceValidationPolicy } from "@pulumi/policy";
import { classifyImage, imageReference, isComputeHost, PINNED_VERSION } from "../lib/compute";
import { readConfig } from "../lib/config";
import { DEFAULT_TEST_STACKS, stackFromUrn, stackMatches, stackPatternsSchema } from "../lib/stacks";

interface Config {
    testStacks: string[];
}

const DEFAULTS: Config = { testStacks: [...DEFAULT_TEST_STACKS] };

export const pinnedImageOutsideTest: ResourceValidationPolicy = {
    name: "pinned-image-outside-test",
    description:
        "Outside the test ring, session hosts run an exact image version: a gallery image version (.../versions/X.Y.Z) " +
        "or, for the break-glass pool of a fleet, a marketplace image with a pinned version (publisher:offer:sku:" +
        "Major.Minor.Build). 'latest', of the gallery or of the marketplace, changes what a host boots on the next " +
        "scale-out or reimage without any ring having validated it, and makes rollback impossible to express (seed: " +
        "'pinned version recommended for production; latest for dev/test'; rings consume images at different " +
        "cadences). A pinned marketplace version is accepted because the seed's rollback falls back to the marketplace " +
        "image when no golden image is usable, and such a pool is still rolled out and gated like any other.",
    enforcementLevel: "mandatory",
    remediationSteps:
        "Reference the image version id (imageVersionId) instead of latestImageReference; give a marketplaceImage pool " +
        "the exact version it runs (az vm image list --publisher <p> --offer <o> --sku <s> --all) instead of latest.",
    configSchema: {
        properties: {
            testStacks: stackPatternsSchema(DEFAULT_TEST_STACKS, "Stack names (glob patterns) allowed to float on latest gallery or marketplace images."),
        },
    },
    validateResource: (args, reportViolation) => {
        if (!isComputeHost(args.type)) return;
        const { testStacks } = readConfig(args, DEFAULTS);
        if (stackMatches(testStacks, args.urn)) return;
        const stack = stackFromUrn(args.urn);
        const image = classifyImage(imageReference(args.type, args.props));
        const where = `"${args.name}" in stack "${stack}"`;
        switch (image.kind) {
            case "gallery-version":
                if (!PINNED_VERSION.test(image.version ?? "")) {
                    reportViolation(`${where} references gallery image version "${image.version}", which is not an X.Y.Z version: ${image.text}`);
                }
                return;
            case "shared-gallery":
                if (!PINNED_VERSION.test(image.version ?? "")) {
                    reportViolation(`${where} references a shared/community gallery image without an X.Y.Z version: ${image.text}`);
                }
                return;
            case "gallery-latest":
                reportViolation(`${where} floats on the latest gallery image version (${image.text}); pin .../versions/X.Y.Z.`);
                return;
            case "marketplace":
                if (!PINNED_VERSION.test(image.version ?? "")) {
                    const version = image.version === undefined ? "no version" : `version "${image.version}"`;
                    reportViolation(`${where} uses marketplace image ${image.text} with ${version}, which floats; pin its Major.Minor.Build version.`);
                }
                return;
            case "managed-image":
                reportViolation(`${where} uses a managed image (${image.text}); use a versioned gallery image.`);
                return;
            case "missing":
                reportViolation(`${where} has ${image.text}; reference a gallery image version.`);
                return;
        }
    },
};
