// The other rings' facts gallery retention must respect, read from their stack outputs: what each
// ring (and each of its host pools) pins and has validated of every image. The build ring reads
// the stacks listed in `retention.protectStacks` through StackReferences at preview and deploy
// time, before it registers anything else, as a promoted ring reads its upstream
// (src/promotion/upstream.ts).
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../config/reader";
import type { RingPin } from "./retention";

/** The outputs of one protect stack that retention reads. */
export interface ProtectedRing {
    stack: string;
    outputs: Record<string, unknown>;
}

/** Outputs retention reads: the fleet maps (issue 11) and the single-image form of rings deployed before them. */
export const RING_OUTPUT_NAMES = ["images", "hostPools", "imageVersion", "validatedImageVersion"] as const;

const VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

function record(value: unknown): Record<string, unknown> | undefined {
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function version(value: unknown): string | undefined {
    return typeof value === "string" && VERSION.test(value) ? value : undefined;
}

function pin(ring: string, facts: Record<string, unknown>): RingPin | undefined {
    const p: RingPin = { ring, imageVersion: version(facts.imageVersion), validatedImageVersion: version(facts.validatedImageVersion) };
    return p.imageVersion || p.validatedImageVersion ? p : undefined;
}

/**
 * What `ring` pins and validated of `image`: `images.<image>` and every `hostPools.<pool>` whose
 * `image` is `image`. A ring that exports only the single-image outputs (deployed before the fleet
 * outputs) runs one image whose name it does not say, so its versions protect every image.
 */
export function ringPinsFor(ring: ProtectedRing, image: string): RingPin[] {
    const images = record(ring.outputs.images);
    const pools = record(ring.outputs.hostPools);
    if (images || pools) {
        const pins: Array<RingPin | undefined> = [];
        const own = record(images?.[image]);
        if (own) pins.push(pin(`${ring.stack} images.${image}`, own));
        for (const [name, value] of Object.entries(pools ?? {})) {
            const pool = record(value);
            if (pool && pool.image === image) pins.push(pin(`${ring.stack} hostPools.${name}`, pool));
        }
        return pins.filter((p): p is RingPin => p !== undefined);
    }
    const single = pin(ring.stack, ring.outputs);
    return single ? [single] : [];
}

/** Refuses a protect stack that exports none of the outputs retention reads: its pins would be unknown. */
export function checkProtectedRing(ring: ProtectedRing, stackFile: string, index: number): void {
    if (record(ring.outputs.images) || record(ring.outputs.hostPools) || version(ring.outputs.imageVersion)) return;
    const key = `avd-image-rings:retention.protectStacks[${index}]`;
    throw new ConfigError(
        `${stackFile}: ${key} ${ring.stack} exports none of ${RING_OUTPUT_NAMES.join(", ")}, so retention cannot tell which versions it runs and deletes nothing it might need: deploy that ring first (pulumi up -s ${ring.stack.split("/").pop()}) with this version of the program, or remove it from the list`,
        { file: stackFile, key },
    );
}

/** Reads every protect stack's outputs through a StackReference and waits for them. */
export async function readProtectedRings(protectStacks: readonly string[], stackFile: string, parent?: pulumi.Resource): Promise<ProtectedRing[]> {
    return Promise.all(
        protectStacks.map(async (stack, index) => {
            const ref = new pulumi.StackReference(`retention-${stack.replace(/\//g, "-")}`, { name: stack }, { parent });
            const outputs: Record<string, unknown> = {};
            for (const name of RING_OUTPUT_NAMES) {
                const details = await ref.getOutputDetails(name);
                const value = details.value ?? details.secretValue;
                if (value !== undefined && value !== null && value !== "") outputs[name] = value;
            }
            const ring = { stack, outputs };
            checkProtectedRing(ring, stackFile, index);
            return ring;
        }),
    );
}
