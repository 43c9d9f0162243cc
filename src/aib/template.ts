// The Image Builder template as plain data, and the names and hashes derived from it.
//
// Image Builder cannot update a template in place (a PUT on an existing template is refused, even
// for a tag change), so a template is never changed: every change gives it a new name, Pulumi
// creates the new template and then deletes the old one. Nothing here reads the clock, so the
// same configuration always yields the same template and `pulumi up` shows no diff.
import { createHash } from "node:crypto";
import type { AibErrorAction, ImageConfig } from "../config/types";
import { buildCustomizers, type Customizer } from "./customizers";
import { artifactTags, sharedImageDistributor, type SharedImageDistributor } from "./distribution";
import { buildValidation, type ValidateSection } from "./validators";

export interface TemplateInput {
    image: ImageConfig;
    /** Build region: the template, its build VM and the first replica live here. */
    location: string;
    imageVersion: string;
}

/** ARM ids the template refers to; `Id` is a string, or a Pulumi output while resources are still being created. */
export interface TemplateIds<Id> {
    identityId: Id;
    /** `.../galleries/{g}/images/{def}/versions/X.Y.Z`. */
    galleryImageVersionId: Id;
    stagingResourceGroupId?: Id;
}

export interface PlatformImageSource {
    type: "PlatformImage";
    publisher: string;
    offer: string;
    sku: string;
    version: string;
}

export interface VmProfile {
    vmSize: string;
    osDiskSizeGB: number;
    vnetConfig?: { subnetId: string; proxyVmSize?: string };
}

/** Everything the template is created with except its tags, with 2024-02-01 property names. */
export interface ImageTemplateContent<Id> {
    location: string;
    identity: { type: "UserAssigned"; userAssignedIdentities: Id[] };
    source: PlatformImageSource;
    customize: Customizer[];
    validate: ValidateSection;
    optimize: { vmBoot: { state: "Enabled" } };
    vmProfile: VmProfile;
    buildTimeoutInMinutes: number;
    stagingResourceGroup?: Id;
    errorHandling: { onCustomizerError: AibErrorAction; onValidationError: AibErrorAction };
    /** The run-trigger command starts the build and waits for it; an automatic run would race it. */
    autoRun: { state: "Disabled" };
    distribute: SharedImageDistributor<Id>[];
}

export interface TemplateTags {
    /** On the template resource. */
    tags: Record<string, string>;
    /** On the temporary resources Image Builder creates for a build (cost attribution). */
    managedResourceTags: Record<string, string>;
    /** On the published image version. */
    artifactTags: Record<string, string>;
}

/** Image template names: ^[A-Za-z0-9-_.]{1,64}$ (imagebuilder.json 2024-02-01). */
export const TEMPLATE_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_TEMPLATE_NAME_LENGTH = 64;
const NAME_HASH_LENGTH = 8;

export function imageTemplateContent<Id>(input: TemplateInput, ids: TemplateIds<Id>): ImageTemplateContent<Id> {
    const { image, location, imageVersion } = input;
    const build = image.build;
    const vmProfile: VmProfile = { vmSize: build.vmSize, osDiskSizeGB: build.osDiskSizeGb };
    if (build.vnet) {
        vmProfile.vnetConfig = {
            subnetId: build.vnet.subnetId,
            ...(build.vnet.proxyVmSize ? { proxyVmSize: build.vnet.proxyVmSize } : {}),
        };
    }
    return {
        location,
        identity: { type: "UserAssigned", userAssignedIdentities: [ids.identityId] },
        source: { type: "PlatformImage", ...image.baseImage },
        customize: buildCustomizers(image.customizations),
        validate: buildValidation(build.vmSize),
        optimize: { vmBoot: { state: "Enabled" } },
        vmProfile,
        buildTimeoutInMinutes: build.timeoutMinutes,
        ...(ids.stagingResourceGroupId !== undefined ? { stagingResourceGroup: ids.stagingResourceGroupId } : {}),
        errorHandling: { onCustomizerError: build.onCustomizerError, onValidationError: build.onValidationError },
        autoRun: { state: "Disabled" },
        distribute: [sharedImageDistributor(image, location, imageVersion, ids.galleryImageVersionId)],
    };
}

/** JSON with object keys sorted at every level, so equal data always hashes equally. */
export function canonicalJson(value: unknown): string {
    const sort = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map(sort);
        if (v !== null && typeof v === "object") {
            return Object.fromEntries(
                Object.entries(v as Record<string, unknown>)
                    .filter(([, x]) => x !== undefined)
                    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
                    .map(([k, x]) => [k, sort(x)]),
            );
        }
        return v;
    };
    return JSON.stringify(sort(value));
}

function sha256(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

/**
 * SHA-256 of the template's content, tags excluded: what the image is built from and where it
 * goes. It is tagged on the published version (ContentHash), so the build tool can tell a version
 * built from this exact content from one built from something else under the same number.
 */
export function contentHash(content: ImageTemplateContent<string>): string {
    return sha256(canonicalJson(content));
}

/** The template's tags, the published version's tags and the tags of Image Builder's temporary resources. */
export function templateTags(input: TemplateInput, ringTags: Record<string, string>, hash: string): TemplateTags {
    const generated = { ImageVersion: input.imageVersion, ContentHash: hash };
    return {
        tags: { ...ringTags, ...input.image.tags, ...generated },
        managedResourceTags: { ...ringTags, ImageVersion: input.imageVersion },
        artifactTags: artifactTags(input.image, input.imageVersion, hash),
    };
}

/**
 * SHA-256 of everything the template is created with, tags included. The template name carries
 * it: a tag change must also yield a new template, because Image Builder refuses to update one.
 */
export function templateFingerprint(content: ImageTemplateContent<string>, tags: TemplateTags): string {
    return sha256(canonicalJson({ content, tags }));
}

/**
 * `it-<definition>-<X-Y-Z>-<hash8>`, at most 64 characters of [A-Za-z0-9-_.]: the definition is
 * shortened when needed, the version and the hash never are.
 */
export function imageTemplateName(imageDefinitionName: string, imageVersion: string, fingerprint: string): string {
    if (!/^[0-9a-f]{8,}$/.test(fingerprint)) throw new Error(`template fingerprint must be lower-case hex, got ${JSON.stringify(fingerprint)}`);
    const suffix = `-${imageVersion.replace(/\./g, "-")}-${fingerprint.slice(0, NAME_HASH_LENGTH)}`;
    const room = MAX_TEMPLATE_NAME_LENGTH - "it-".length - suffix.length;
    const definition = imageDefinitionName.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, room).replace(/[-_.]+$/, "");
    return `it-${definition}${suffix}`;
}

export interface ResolvedTemplate {
    content: ImageTemplateContent<string>;
    contentHash: string;
    tags: TemplateTags;
    name: string;
}

/** Content, hashes, tags and name of the template once every id it refers to is known. */
export function resolveTemplate(input: TemplateInput, ringTags: Record<string, string>, ids: TemplateIds<string>): ResolvedTemplate {
    const content = imageTemplateContent(input, ids);
    const hash = contentHash(content);
    const tags = templateTags(input, ringTags, hash);
    return { content, contentHash: hash, tags, name: imageTemplateName(input.image.gallery.imageDefinitionName, input.imageVersion, templateFingerprint(content, tags)) };
}
