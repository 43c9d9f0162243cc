import type { StackValidationPolicy } from "@pulumi/policy";
import { galleryDistributions } from "../lib/aib";
import { classifyImage, galleryDefinitionKey, imageReference, isComputeHost } from "../lib/compute";
import { IMAGE_TEMPLATE } from "../lib/types";

export const excludeFromLatestWhenFloating: StackValidationPolicy = {
    name: "exclude-from-latest-when-floating",
    description:
        "When hosts in the stack follow an image definition's 'latest' version, the builds published to that definition " +
        "set excludeFromLatest until they are validated. Otherwise a fresh, unvalidated build becomes what the next " +
        "scale-out or reimage boots (seed: 'exclude_from_latest = true: test builds don't become latest'; runbook: " +
        "'promote version to Latest' only after validation).",
    enforcementLevel: "advisory",
    remediationSteps: "Set image.distribution.excludeFromLatest: true, or pin the hosts to imageVersionId.",
    validateStack: (args, reportViolation) => {
        const floating = new Map<string, string>();
        for (const r of args.resources) {
            if (!isComputeHost(r.type)) continue;
            const image = classifyImage(imageReference(r.type, r.props));
            if (image.kind === "gallery-latest" && image.definitionKey) floating.set(image.definitionKey, r.name);
        }
        if (floating.size === 0) return;
        for (const template of args.resources.filter((r) => r.type === IMAGE_TEMPLATE)) {
            for (const d of galleryDistributions(template.props)) {
                const key = galleryDefinitionKey(d.galleryImageId);
                const host = key ? floating.get(key) : undefined;
                if (host && !d.excludeFromLatest) {
                    reportViolation(
                        `Image template "${template.name}" publishes to "${key}" without excludeFromLatest while "${host}" follows its latest ` +
                            "version: each build reaches those hosts before it is validated.",
                        template.urn,
                    );
                }
            }
        }
    },
};
