import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { known } from "../lib/known";
import { VMSS } from "../lib/types";
import { asString, getPath } from "../lib/values";

/** A scale set's computer-name prefix, when it is known during preview. */
function computerNamePrefix(vmss: PolicyResource): string | undefined {
    return known(() => asString(getPath(vmss.props, "virtualMachineProfile", "osProfile", "computerNamePrefix")));
}

export const uniqueComputerNamePrefix: StackValidationPolicy = {
    name: "unique-computer-name-prefix",
    description:
        "No two session-host scale sets of a ring share a computer-name prefix (compared without regard to case, as " +
        "Windows and Active Directory compare computer names). Azure names each instance <prefix> followed by a suffix " +
        "derived from its instance id, so two scale sets with one prefix produce the same computer names from their first " +
        "instance on: the second domain or Entra join takes over or fails on the first host's computer object, AVD " +
        "registers one session host name for two VMs, and the rollout, which matches instances to session hosts by " +
        "computer name when no resource id links them, drains the wrong host. A fleet's pools each need their own prefix.",
    enforcementLevel: "mandatory",
    remediationSteps: "Give each pool its own hostPools.<pool>.computerNamePrefix (at most 9 characters for Windows: Azure adds 6).",
    validateStack: (args, reportViolation) => {
        const byPrefix = new Map<string, PolicyResource[]>();
        for (const vmss of args.resources) {
            if (vmss.type !== VMSS) continue;
            const prefix = computerNamePrefix(vmss);
            if (!prefix) continue;
            const key = prefix.toLowerCase();
            const sharing = byPrefix.get(key);
            if (sharing) sharing.push(vmss);
            else byPrefix.set(key, [vmss]);
        }
        for (const sharing of byPrefix.values()) {
            if (sharing.length < 2) continue;
            const [first, ...others] = sharing;
            for (const vmss of others) {
                reportViolation(
                    `Scale set "${vmss.name}" uses computer-name prefix "${computerNamePrefix(vmss)}", as scale set "${first.name}" does: ` +
                        "their instances get the same computer names.",
                    vmss.urn,
                );
            }
        }
    },
};
