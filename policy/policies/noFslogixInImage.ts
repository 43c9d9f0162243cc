import type { ResourceValidationPolicy } from "@pulumi/policy";
import { scanTemplate } from "../lib/imageContents";
import { FSLOGIX_RULES } from "../lib/scriptScan";
import { IMAGE_TEMPLATE, forType } from "../lib/types";
import { excerpt } from "../lib/values";

export const noFslogixInImage: ResourceValidationPolicy = {
    name: "no-fslogix-in-image",
    description:
        "Image Builder templates preferably do not install or upgrade FSLogix. Windows multi-session images ship with " +
        "FSLogix, and updating it separately from the image keeps profile-container fixes off the monthly image cycle " +
        "(seed: 'FSLogix: prefer not to bake in, update separately'). Configuring the bundled FSLogix is fine.",
    enforcementLevel: "advisory",
    remediationSteps: "Update FSLogix on the hosts (or with its own pipeline) instead of in the image build.",
    validateResource: forType(IMAGE_TEMPLATE, (args, reportViolation) => {
        for (const f of scanTemplate(args.props, FSLOGIX_RULES)) {
            reportViolation(`Image template "${args.name}" installs ${f.indicator} in ${f.where}: ${excerpt(f.text)}`);
        }
    }),
};
