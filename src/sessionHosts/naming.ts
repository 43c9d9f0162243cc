// Azure names and tags of a ring's session-host resources, derived from the ring (stack) name and,
// in a fleet, the pool's name, so every pool's resources are recognisable in the portal and never
// collide in a shared group.
import type * as pulumi from "@pulumi/pulumi";
import type { RingConfig, SessionHostResourceNames } from "../config/types";

export type { SessionHostResourceNames };

/** Today's names for the single-image form (`pool` absent); `<kind>-avd-<stack>-<pool>` in a fleet. */
export function sessionHostResourceNames(stack: string, pool?: string): SessionHostResourceNames {
    const base = pool === undefined ? `avd-${stack}` : `avd-${stack}-${pool}`;
    return {
        hostPool: `vdpool-${base}`,
        applicationGroup: `vdag-${base}`,
        workspace: `vdws-${base}`,
        scaleSet: `vmss-${base}`,
        networkInterface: `nic-${base}`,
    };
}

/** The ring's tags plus `Ring: <stack>`, which the rollout and cost reports group by. */
export function sessionHostTags(ring: Pick<RingConfig, "stack" | "tags">): Record<string, string> {
    return { ...ring.tags, Ring: ring.stack };
}

/** Where one pool's resources go and what they are called: what every session-host argument builder needs besides the pool's settings. */
export interface PoolPlacement {
    /** The ring (stack) name, e.g. "prod". */
    stack: string;
    /** The pool's name in a fleet; absent in the single-image form, whose descriptions name only the ring. */
    pool?: string;
    location: string;
    resourceGroupName: pulumi.Input<string>;
    names: SessionHostResourceNames;
    /** Tags of every session-host resource: the ring's tags plus `Ring` (sessionHostTags). */
    tags: Record<string, string>;
}

/** "the prod ring" or "pool cad of the prod ring", for resource descriptions. */
export function poolDescription(p: Pick<PoolPlacement, "stack" | "pool">): string {
    return p.pool === undefined ? `the ${p.stack} ring` : `pool ${p.pool} of the ${p.stack} ring`;
}
