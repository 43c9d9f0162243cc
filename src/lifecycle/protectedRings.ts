// The other rings' facts gallery retention must respect, read from their stack outputs: what each
// ring (and each of its host pools) pins and has validated of every image. The build ring reads
// the stacks listed in `retention.protectStacks` through StackReferences at preview and deploy
// time, before it registers anything else, as a promoted ring reads its upstream
// (src/promotion/upstream.ts).
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../config/reader";
import type { RingConfig } from "../config/types";
import type { HostPoolOutputs, ImageOutputs, LegacyRingOutputs, RingOutputs } from "../promotion/ringOutputs";
import type { RingPin } from "./retention";

/** The outputs of one protect stack that retention reads. */
export interface ProtectedRing {
    stack: string;
    outputs: Record<string, unknown>;
}

/** Outputs retention reads (src/promotion/ringOutputs.ts): the fleet maps, and the single-image outputs of rings deployed before them. */
export const RING_OUTPUT_NAMES = ["images", "hostPools", "imageVersion", "validatedImageVersion"] as const satisfies ReadonlyArray<keyof RingOutputs | keyof LegacyRingOutputs>;

/** The fields of `images.<name>` and `hostPools.<pool>` a pin is made of. */
type PinFields = Pick<ImageOutputs, "imageVersion" | "validatedImageVersion"> & Pick<HostPoolOutputs, "imageVersion" | "validatedImageVersion">;
const POOL_IMAGE: keyof HostPoolOutputs = "image";

const VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

function record(value: unknown): Record<string, unknown> | undefined {
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function version(value: unknown): string | undefined {
    return typeof value === "string" && VERSION.test(value) ? value : undefined;
}

function pin(ring: string, facts: { [K in keyof PinFields]?: unknown }): RingPin | undefined {
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
            if (pool && pool[POOL_IMAGE] === image) pins.push(pin(`${ring.stack} hostPools.${name}`, pool));
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

/**
 * What the build ring itself pins of `image`: the version it builds and the version of each of its
 * pools on the image. Its validated versions come from its own rollout, later in the same
 * deployment; the version it ran before is the rollback target of the one it pins.
 */
export function ownRingPins(ring: Pick<RingConfig, "stack" | "imageVersions" | "hostPools">, image: string): RingPin[] {
    const pins: RingPin[] = [];
    const built = ring.imageVersions[image];
    if (built) pins.push({ ring: `${ring.stack} (this ring) images.${image}`, imageVersion: built });
    for (const pool of Object.values(ring.hostPools)) {
        if (pool.source.kind === "gallery" && pool.source.image === image) pins.push({ ring: `${ring.stack} (this ring) hostPools.${pool.name}`, imageVersion: pool.source.imageVersion });
    }
    return pins;
}
