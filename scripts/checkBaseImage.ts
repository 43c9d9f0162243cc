// `npm run check-base-image -- --stack test [--image <name>] [--used <version>]`: is there a newer
// marketplace version of the build ring's base image than the one the last build used? For the
// scheduled workflow, which builds out of cycle when there is.
//
// - The base image (publisher/offer/sku) and the build location come from Pulumi.<stack>.yaml,
//   through the program's own config parser (a bad file fails as `pulumi up` would).
// - The version used last: `--used <version>`, else the `BaseImageVersion` tag of the newest
//   published gallery version that has one (the build trigger tags it: tools/build/releaseNotes.ts),
//   read through ARM, so no Pulumi CLI or state is needed; else a pinned `image.baseImage.version`.
// - The newest version: Compute VirtualMachineImages_List (2024-11-01),
//   `/subscriptions/{s}/providers/Microsoft.Compute/locations/{location}/publishers/{p}/artifacttypes/vmimage/offers/{o}/skus/{s}/versions`,
//   a bare JSON array of {name, location, id}; versions compared numerically per segment.
// - Subscription: ARM_SUBSCRIPTION_ID (the provider's variable), AZURE_SUBSCRIPTION_ID, or the
//   stack's azure-native:subscriptionId. Credentials as the deploy-time tools (tools/azure/credentials.ts).
//
// Exit 0: every image is current. 1: a newer base image exists (printed). 2: the check could not be
// made (bad arguments or stack file, unknown used version, an Azure error).
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as semver from "semver";
import { readStackConfig } from "../preview/stackConfig";
import { parseRingConfig, PROJECT } from "../src/config/parse";
import { ConfigError } from "../src/config/reader";
import type { ImageConfig, RingConfig } from "../src/config/types";
import { ArmClient, ArmError } from "../tools/azure/arm";
import { optionalString, stringMap } from "../tools/azure/json";
import { CredentialError } from "../tools/azure/credentials";
import type { Io, ToolOptions } from "../tools/shared/tool";

export const MARKETPLACE_API_VERSION = "2024-11-01";
export const GALLERY_API_VERSION = "2024-03-03";
const BASE_IMAGE_VERSION_TAG = "BaseImageVersion";
const USAGE = "usage: npm run check-base-image -- --stack <ring> [--image <name>] [--used <marketplace version>] [--json]";

export interface BaseImageStatus {
    image: string;
    baseImage: string;
    location: string;
    used: string;
    /** Where `used` came from. */
    usedFrom: string;
    newest: string;
    newer: boolean;
}

class UsageError extends Error {}

interface Args {
    stack: string;
    image?: string;
    used?: string;
    json: boolean;
}

function parseArgs(argv: readonly string[]): Args {
    const args: Partial<Args> & { json: boolean } = { json: false };
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        const value = () => {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
            return v;
        };
        if (flag === "--stack") args.stack = value();
        else if (flag === "--image") args.image = value();
        else if (flag === "--used") args.used = value();
        else if (flag === "--json") args.json = true;
        else throw new UsageError(`unknown argument ${JSON.stringify(flag)}`);
    }
    if (!args.stack) throw new UsageError("--stack is required");
    if (args.used !== undefined && !MARKETPLACE_VERSION.test(args.used)) throw new UsageError(`--used must be a marketplace image version such as 26100.2314.241107, got ${JSON.stringify(args.used)}`);
    return { stack: args.stack, image: args.image, used: args.used, json: args.json };
}

/** Marketplace image versions: Major.Minor.Build, decimal numbers. */
const MARKETPLACE_VERSION = /^\d+\.\d+\.\d+$/;

export function compareMarketplaceVersions(a: string, b: string): number {
    const pa = a.split(".").map(Number);
    const pb = b.split(".").map(Number);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
        const d = (pa[i] ?? 0) - (pb[i] ?? 0);
        if (d !== 0) return d;
    }
    return 0;
}


function loadRing(dir: string, stack: string): RingConfig {
    const cfg = readStackConfig(dir, stack);
    const prefix = `${PROJECT}:`;
    const values: Record<string, unknown> = {};
    for (const [key, text] of Object.entries(cfg.config)) {
        if (!key.startsWith(prefix)) continue;
        values[key.slice(prefix.length)] = /^\s*[[{]/.test(text) ? (JSON.parse(text) as unknown) : text;
    }
    const secretKeys = cfg.secretKeys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
    // Secrets are not needed to read the base image (offline they cannot be decrypted); the parser only checks they are set.
    return parseRingConfig({ stack, values, secret: (key) => (secretKeys.includes(key) ? pulumi.secret(String(values[key])) : undefined), secretKeys });
}

function subscriptionOf(env: NodeJS.ProcessEnv, config: Record<string, string>): string | undefined {
    return env.ARM_SUBSCRIPTION_ID?.trim() || env.AZURE_SUBSCRIPTION_ID?.trim() || config["azure-native:subscriptionId"]?.trim() || undefined;
}

/** The newest published version's recorded base image version, with the version it came from. */
async function usedFromGallery(arm: ArmClient, definitionId: string): Promise<{ version: string; from: string } | undefined> {
    const items = await arm.list(`${definitionId}/versions`, { apiVersion: GALLERY_API_VERSION });
    const tagged = items
        .filter((v) => /^succeeded$/i.test(optionalString(v, "properties.provisioningState") ?? ""))
        .map((v) => ({ name: optionalString(v, "name") ?? "", tag: Object.entries(stringMap(v, "tags")).find(([k]) => k.toLowerCase() === BASE_IMAGE_VERSION_TAG.toLowerCase())?.[1] }))
        .filter((v): v is { name: string; tag: string } => semver.valid(v.name) !== null && v.tag !== undefined && MARKETPLACE_VERSION.test(v.tag))
        .sort((a, b) => semver.compare(a.name, b.name));
    const last = tagged.pop();
    return last ? { version: last.tag, from: `the ${BASE_IMAGE_VERSION_TAG} tag of gallery version ${last.name}` } : undefined;
}

async function newestMarketplaceVersion(arm: ArmClient, subscription: string, location: string, image: ImageConfig): Promise<string> {
    const b = image.baseImage;
    const seg = encodeURIComponent;
    const body = await arm.get(
        `/subscriptions/${subscription}/providers/Microsoft.Compute/locations/${seg(location)}/publishers/${seg(b.publisher)}/artifacttypes/vmimage/offers/${seg(b.offer)}/skus/${seg(b.sku)}/versions`,
        { apiVersion: MARKETPLACE_API_VERSION },
    );
    if (!Array.isArray(body)) throw new Error("the marketplace versions list is not a JSON array");
    const versions = body.map((v) => optionalString(v, "name") ?? "").filter((v) => MARKETPLACE_VERSION.test(v)).sort(compareMarketplaceVersions);
    const newest = versions.pop();
    if (!newest) throw new Error(`the marketplace lists no versions of ${b.publisher}:${b.offer}:${b.sku} in ${location}`);
    return newest;
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, io: Io, options: ToolOptions & { projectDir?: string } = {}): Promise<number> {
    let args: Args;
    try {
        args = parseArgs(argv);
    } catch (e) {
        io.stderr(`check-base-image: ${e instanceof Error ? e.message : String(e)}`);
        io.stderr(USAGE);
        return 2;
    }
    const dir = options.projectDir ?? path.resolve(__dirname, "..");
    try {
        const ring = loadRing(dir, args.stack);
        const file = `Pulumi.${args.stack}.yaml`;
        let images = Object.values(ring.images);
        if (images.length === 0) throw new UsageError(`${file} is not the build ring (it has ${PROJECT}:promoteFrom); check the stack that builds the image`);
        if (args.image) {
            images = images.filter((i) => i.name === args.image);
            if (images.length === 0) throw new UsageError(`${file} builds no image named ${JSON.stringify(args.image)}`);
        }
        const subscription = subscriptionOf(env, readStackConfig(dir, args.stack).config);
        if (!subscription) throw new UsageError("set ARM_SUBSCRIPTION_ID (or azure-native:subscriptionId in the stack file) to the subscription of the build ring");
        const arm = ArmClient.fromEnvironment(env, { clock: options.clock, tokenProvider: options.tokenProvider, fetch: options.fetch, retry: options.retry, signal: options.signal });
        const results: BaseImageStatus[] = [];
        for (const image of images) {
            const b = image.baseImage;
            const urn = `${b.publisher}:${b.offer}:${b.sku}`;
            const definitionId = `/subscriptions/${subscription}/resourceGroups/${ring.resourceGroupName}/providers/Microsoft.Compute/galleries/${image.gallery.name}/images/${image.gallery.imageDefinitionName}`;
            const pinned = MARKETPLACE_VERSION.test(b.version) ? b.version : undefined;
            const used = args.used
                ? { version: args.used, from: "--used" }
                : ((await usedFromGallery(arm, definitionId)) ?? (pinned ? { version: pinned, from: `image.baseImage.version in ${file}` } : undefined));
            if (!used) {
                throw new UsageError(`no published version of ${image.gallery.imageDefinitionName} records its base image version (tag ${BASE_IMAGE_VERSION_TAG}) and ${file} uses "latest"; pass --used <version>`);
            }
            const newest = await newestMarketplaceVersion(arm, subscription, ring.location, image);
            results.push({ image: image.name, baseImage: urn, location: ring.location, used: used.version, usedFrom: used.from, newest, newer: compareMarketplaceVersions(newest, used.version) > 0 });
        }
        for (const r of results) {
            const image = images.find((i) => i.name === r.image);
            if (r.newer) {
                const pin = image && MARKETPLACE_VERSION.test(image.baseImage.version) ? `; image.baseImage.version is pinned to ${image.baseImage.version}, set it to ${r.newest} (or "latest") in ${file}` : "";
                io.stdout(`${r.image}: newer base image ${r.baseImage}:${r.newest} in ${r.location} (the last build used ${r.used}, from ${r.usedFrom})${pin}`);
            } else {
                io.stdout(`${r.image}: base image ${r.baseImage} is current: ${r.used} (from ${r.usedFrom}) is the newest in ${r.location}`);
            }
        }
        if (args.json) io.stdout(JSON.stringify({ stack: args.stack, images: results }));
        return results.some((r) => r.newer) ? 1 : 0;
    } catch (e) {
        io.stderr(`check-base-image: ${describe(e)}`);
        return 2;
    }
}

function describe(e: unknown): string {
    if (e instanceof UsageError || e instanceof ConfigError || e instanceof CredentialError) return e.message;
    if (e instanceof ArmError) return `Azure answered ${e.status} ${e.code}: ${e.armMessage}`;
    return e instanceof Error ? e.message : String(e);
}

if (require.main === module) {
    const io: Io = { stdout: (l) => process.stdout.write(`${l}\n`), stderr: (l) => process.stderr.write(`${l}\n`) };
    void main(process.argv.slice(2), process.env, io).then((code) => {
        process.exitCode = code;
    });
}
