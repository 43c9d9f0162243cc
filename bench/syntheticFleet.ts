// A synthetic fleet for the policy and preview benchmarks: the shipped rings' stack configuration
// with their first image and first pool repeated to N images and M pools per ring (pool k runs image
// k mod N), built in memory from the stack files, never written to the repository. The rings are
// evaluated in promotion order (test -> pilot -> prod) as the offline preview evaluates them, each
// reading the one before it through its StackReference.
import { performance } from "node:perf_hooks";
import type { RecordedResource } from "../preview/engine";
import type { StackConfig } from "../preview/stackConfig";
import { PROJECT_DIR } from "./measure";

export interface FleetShape {
    images: number;
    pools: number;
}

/** The two shapes the benchmarks compare: the smallest fleet, and the 10 images x 20 pools per ring. */
export const FLEET_SHAPES: readonly FleetShape[] = [
    { images: 1, pools: 1 },
    { images: 10, pools: 20 },
];

export const RINGS = ["test", "pilot", "prod"] as const;

export function shapeName(s: FleetShape): string {
    return `${s.images}x${s.pools}`;
}

const key = (name: string) => `avd-image-rings:${name}`;
type Json = Record<string, unknown>;

function objectAt(cfg: StackConfig, name: string): Json {
    const text = cfg.config[key(name)];
    if (text === undefined) throw new Error(`synthetic fleet: Pulumi.${cfg.stack}.yaml has no ${key(name)}; the generator starts from the fleet form`);
    return JSON.parse(text) as Json;
}

const pad = (n: number) => String(n).padStart(2, "0");

/**
 * One ring's configuration as a fleet of `shape`: images `img-00`.. copy the ring's first image
 * (build ring only; each with its own image definition, `avd-synth-NN`), every image at the version
 * the ring runs its first image at, and pools `pool-00`.. copy the ring's first pool running that
 * image, each with its own computer-name prefix.
 */
export function syntheticFleetConfig(cfg: StackConfig, shape: FleetShape): StackConfig {
    const versions = objectAt(cfg, "imageVersions");
    const pools = objectAt(cfg, "hostPools");
    const [templateImage] = Object.keys(versions);
    const templatePool = Object.values(pools).find((p) => (p as Json).image === templateImage) as Json | undefined;
    if (!templatePool) throw new Error(`synthetic fleet: Pulumi.${cfg.stack}.yaml has no pool running image ${templateImage}`);
    const imageNames = Array.from({ length: shape.images }, (_, i) => `img-${pad(i)}`);
    const config = { ...cfg.config };
    config[key("imageVersions")] = JSON.stringify(Object.fromEntries(imageNames.map((n) => [n, versions[templateImage]])));
    if (cfg.config[key("images")] !== undefined) {
        const image = objectAt(cfg, "images")[templateImage] as Json;
        const build = { ...(image.build as Json) };
        // One staging group serves one template at a time; leave each image its own default.
        delete build.stagingResourceGroupName;
        config[key("images")] = JSON.stringify(
            Object.fromEntries(imageNames.map((n, i) => [n, { ...image, build, imageDefinition: { ...(image.imageDefinition as Json), name: `avd-synth-${pad(i)}` } }])),
        );
    }
    const ring = cfg.stack.slice(0, 1);
    config[key("hostPools")] = JSON.stringify(
        Object.fromEntries(
            Array.from({ length: shape.pools }, (_, k) => [`pool-${pad(k)}`, { ...templatePool, image: imageNames[k % shape.images], computerNamePrefix: `avds${ring}${pad(k)}` }]),
        ),
    );
    return { ...cfg, config };
}

export interface FleetRingEvaluation {
    stack: string;
    resources: RecordedResource[];
    evaluateMs: number;
}

/** The shipped rings' configuration from the project's stack files. */
export function shippedConfigs(): StackConfig[] {
    const { readStackConfig }: typeof import("../preview/stackConfig") = require("../preview/stackConfig");
    return RINGS.map((ring) => readStackConfig(PROJECT_DIR, ring));
}

/**
 * Evaluates the three rings of `shape` in promotion order under the mock engine, as the offline
 * preview does (same simulation: offline gallery, simulated tool output). The modules load on the
 * first call, so a caller that times this has loaded them already.
 */
export async function evaluateFleet(shape: FleetShape, base: StackConfig[] = shippedConfigs()): Promise<FleetRingEvaluation[]> {
    const engine: typeof import("../preview/engine") = require("../preview/engine");
    const cli: typeof import("../preview/cli") = require("../preview/cli");
    const commands: typeof import("../preview/commands") = require("../preview/commands");
    const program: typeof import("../index") = require("../index");
    const configs = base.map((c) => syntheticFleetConfig(c, shape));
    const galleryVersions = cli.offlineGalleryVersions(configs);
    const outputs = new Map<string, Record<string, unknown>>();
    const rings: FleetRingEvaluation[] = [];
    for (const cfg of configs) {
        const start = performance.now();
        const evaluation = await engine.evaluate({
            project: cfg.project,
            stack: cfg.stack,
            config: cfg.config,
            secretKeys: cfg.secretKeys,
            program,
            simulation: {
                subscriptionId: cli.OFFLINE_SUBSCRIPTION_ID,
                tenantId: cli.OFFLINE_TENANT_ID,
                stackOutputs: (name) => outputs.get(name.split("/")[2] ?? ""),
                commandStdout: (args) => commands.simulatedCommandStdout(args, galleryVersions),
            },
        });
        rings.push({ stack: cfg.stack, resources: evaluation.resources, evaluateMs: performance.now() - start });
        outputs.set(cfg.stack, evaluation.outputs);
    }
    return rings;
}
