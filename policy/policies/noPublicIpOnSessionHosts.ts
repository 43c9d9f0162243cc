import type { ResourceValidationPolicy } from "@pulumi/policy";
import { ipConfigurations, isComputeHost } from "../lib/compute";

export const noPublicIpOnSessionHosts: ResourceValidationPolicy = {
    name: "no-public-ip-on-session-hosts",
    description:
        "Session hosts get no public IP address (no publicIPAddressConfiguration on their network interface IP " +
        "configurations). Users reach AVD hosts through the AVD gateway over reverse connect; a public IP only exposes " +
        "RDP and the host's other listeners to the internet.",
    enforcementLevel: "mandatory",
    remediationSteps: "Remove publicIPAddressConfiguration; use the AVD gateway (and NAT gateway or a firewall for outbound traffic).",
    validateResource: (args, reportViolation) => {
        if (!isComputeHost(args.type)) return;
        for (const ip of ipConfigurations(args.type, args.props)) {
            if (ip.publicIPAddressConfiguration !== undefined && ip.publicIPAddressConfiguration !== null) {
                reportViolation(`"${args.name}" gives IP configuration ${ip.label} a public IP address (publicIPAddressConfiguration).`);
            }
        }
    },
};
