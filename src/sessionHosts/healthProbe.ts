// The health signal scale-set rolling upgrades (and the rollout gate) read: the Application
// Health extension with Rich Health States, probing the local endpoint HealthEndpoint.ps1
// serves. Not the extension's usual HTTP :80 probe, which nothing on a session host answers.
import type { ScaleSetExtension } from "./extensions";

export const HEALTH_ENDPOINT = { protocol: "http", port: 8090, requestPath: "/health" } as const;

/**
 * How long a new or reimaged host may take to report its first state before it counts as
 * Unknown: a directory join with its restart, the agent download and registration (Azure's
 * maximum is 7200 s). A host that is ready sooner leaves Initializing as soon as it answers.
 */
export const HEALTH_GRACE_PERIOD_SECONDS = 1800;

export const HEALTH_EXTENSION_NAME = "ApplicationHealth";

export function applicationHealthExtension(provisionAfterExtensions: string[]): ScaleSetExtension {
    return {
        name: HEALTH_EXTENSION_NAME,
        publisher: "Microsoft.ManagedServices",
        type: "ApplicationHealthWindows",
        // 2.0 is Rich Health States: the body's ApplicationHealthState decides, not just HTTP 200.
        typeHandlerVersion: "2.0",
        autoUpgradeMinorVersion: true,
        settings: {
            protocol: HEALTH_ENDPOINT.protocol,
            port: HEALTH_ENDPOINT.port,
            requestPath: HEALTH_ENDPOINT.requestPath,
            intervalInSeconds: 5,
            // Three agreeing probes in a row before the state changes, so one slow answer does not flap it.
            numberOfProbes: 3,
            gracePeriod: HEALTH_GRACE_PERIOD_SECONDS,
        },
        provisionAfterExtensions,
    };
}
