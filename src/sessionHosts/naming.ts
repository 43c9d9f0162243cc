// Azure names and tags of a ring's session-host resources, derived from the ring (stack) name so
// every ring's resources are recognisable in the portal and never collide in a shared group.
import type { RingConfig } from "../config/types";

export interface SessionHostResourceNames {
    hostPool: string;
    applicationGroup: string;
    workspace: string;
    scaleSet: string;
    networkInterface: string;
}

export function sessionHostResourceNames(stack: string): SessionHostResourceNames {
    return {
        hostPool: `vdpool-avd-${stack}`,
        applicationGroup: `vdag-avd-${stack}`,
        workspace: `vdws-avd-${stack}`,
        scaleSet: `vmss-avd-${stack}`,
        networkInterface: `nic-avd-${stack}`,
    };
}

/** The ring's tags plus `Ring: <stack>`, which the rollout and cost reports group by. */
export function sessionHostTags(ring: Pick<RingConfig, "stack" | "tags">): Record<string, string> {
    return { ...ring.tags, Ring: ring.stack };
}
