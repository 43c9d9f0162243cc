import type { ResourceValidationPolicy } from "@pulumi/policy";
import { scanTemplate } from "../lib/imageContents";
import { AVD_AGENT_RULES } from "../lib/scriptScan";
import { IMAGE_TEMPLATE, forType } from "../lib/types";
import { excerpt } from "../lib/values";

export const noAvdAgentInImage: ResourceValidationPolicy = {
    name: "no-avd-agent-in-image",
    description:
        "Image Builder templates never install or stage the AVD agent (RDAgent), its boot loader (RDAgentBootLoader) or " +
        "the host-pool registration package. The agent is installed when a host registers with its host pool; an agent " +
        "baked into the image registers every host built from it with the build's host pool or token, breaks " +
        "registration, and goes stale between builds (seed: 'AVD Agent: do not include, agent installs at host " +
        "registration'; troubleshooting: 'AVD agent not installing -> remove AVD agent from image'). Recognises the " +
        "download locations Microsoft documents for registering a host by hand: go.microsoft.com/fwlink/?linkid=2310011 " +
        "and ?linkid=2311028 (learn.microsoft.com/troubleshoot/azure/virtual-desktop/troubleshoot-agent), the direct " +
        "binaries query.prod.cms.rt.microsoft.com/cms/api/am/binary/RWrmXv and RWrxrH and the installers " +
        "Microsoft.RDInfra.RDAgent.Installer-x64-<version>.msi / Microsoft.RDInfra.RDAgentBootLoader.Installer-x64.msi " +
        "(learn.microsoft.com/azure/virtual-desktop/add-session-hosts-host-pool), however the script spells them.",
    enforcementLevel: "mandatory",
    remediationSteps:
        "Remove the step from image.customizations; the session-host scale set installs the agent at registration. " +
        "Checks for the agent's absence (Get-Service, Test-Path) are fine.",
    validateResource: forType(IMAGE_TEMPLATE, (args, reportViolation) => {
        for (const f of scanTemplate(args.props, AVD_AGENT_RULES)) {
            reportViolation(`Image template "${args.name}" installs or stages ${f.indicator} in ${f.where}: ${excerpt(f.text)}`);
        }
    }),
};
