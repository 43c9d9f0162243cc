import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { inlineExtensions, upgradeMode } from "../lib/compute";
import { known } from "../lib/known";
import { VMSS, VMSS_EXTENSION } from "../lib/types";
import { asNumber, asRecord, asString, getPath, type Props } from "../lib/values";

const HEALTH_PUBLISHER = "microsoft.managedservices";
const HEALTH_TYPE = /^applicationhealth(?:windows|linux)$/i;
/** Ports the Application Health extension probes when settings leave the port out. */
const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

function isHealthExtension(ext: Props): boolean {
    return asString(ext.publisher)?.toLowerCase() === HEALTH_PUBLISHER && HEALTH_TYPE.test(asString(ext.type) ?? "");
}

/** Standalone extension resources that belong to `vmss` (by dependency, or by scale set name and resource group). */
function standaloneExtensions(vmss: PolicyResource, resources: PolicyResource[]): Props[] {
    const vmssName = known(() => asString(vmss.props.vmScaleSetName));
    const vmssGroup = known(() => asString(vmss.props.resourceGroupName));
    return resources
        .filter((r) => r.type === VMSS_EXTENSION)
        .filter((r) => {
            if ((r.propertyDependencies.vmScaleSetName ?? []).some((d) => d.urn === vmss.urn)) return true;
            const name = known(() => asString(r.props.vmScaleSetName));
            const group = known(() => asString(r.props.resourceGroupName));
            return name !== undefined && name === vmssName && (group === undefined || vmssGroup === undefined || group.toLowerCase() === vmssGroup.toLowerCase());
        })
        .map((r) => r.props);
}

/** What is wrong with a health extension's probe, if anything. */
function probeProblem(ext: Props): string | undefined {
    const settings = asRecord(ext.settings);
    const protocol = asString(settings?.protocol)?.toLowerCase();
    if (!protocol) return "sets no settings.protocol";
    const port = asNumber(settings?.port) ?? DEFAULT_PORTS[protocol];
    if (port === undefined) return `probes ${protocol} without settings.port`;
    if (port === 80) return `probes ${protocol} on port 80${asNumber(settings?.port) === undefined ? " (the default)" : ""}, which nothing serves on a session host`;
    return undefined;
}

export const rollingUpgradeHealthProbe: StackValidationPolicy = {
    name: "rolling-upgrade-health-probe",
    description:
        "Rolling and Automatic scale sets have a health signal for the upgrade to wait on: the Application Health " +
        "extension probing a port a session host actually serves (e.g. tcp 3389), or a load balancer probe. Without one " +
        "a rolling upgrade cannot tell a broken host from a healthy one; with the default HTTP :80 probe every session " +
        "host reports unhealthy and the upgrade stops (seed: 'you control batch size, pause duration, health probe').",
    enforcementLevel: "mandatory",
    remediationSteps: "Add the ApplicationHealthWindows extension with settings { protocol: \"tcp\", port: 3389 } (or an http(s) endpoint on another port).",
    validateStack: (args, reportViolation) => {
        for (const vmss of args.resources.filter((r) => r.type === VMSS)) {
            const mode = upgradeMode(vmss.props);
            if (mode !== "Rolling" && mode !== "Automatic") continue;
            const extensions = [...inlineExtensions(vmss.props), ...standaloneExtensions(vmss, args.resources)].filter(isHealthExtension);
            if (extensions.length === 0) {
                if (asString(getPath(vmss.props, "virtualMachineProfile", "networkProfile", "healthProbe", "id"))) continue;
                reportViolation(
                    `Scale set "${vmss.name}" upgrades in ${mode} mode without the Application Health extension or a load balancer health probe.`,
                    vmss.urn,
                );
                continue;
            }
            for (const ext of extensions) {
                const problem = probeProblem(ext);
                if (problem) reportViolation(`Scale set "${vmss.name}": its Application Health extension ${problem}.`, vmss.urn);
            }
        }
    },
};
