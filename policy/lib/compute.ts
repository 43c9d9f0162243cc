// Read-only views of scale set (VMSS) and virtual machine inputs in azure-native v3 shape.
// Each accessor reads only its own path (see values.ts on unknowns).
import { VM, VMSS } from "./types";
import { asArray, asNumber, asRecord, asString, getPath, type Props } from "./values";

/** The VM model: `virtualMachineProfile` on a scale set, the resource itself on a VM. */
function vmModel(type: string, props: Props): Props | undefined {
    if (type === VMSS) return asRecord(props.virtualMachineProfile);
    if (type === VM) return props;
    return undefined;
}

export function isComputeHost(type: string): boolean {
    return type === VMSS || type === VM;
}

export function upgradeMode(props: Props): string | undefined {
    return asString(getPath(props, "upgradePolicy", "mode"));
}

export function rollingUpgradePolicy(props: Props): Props | undefined {
    return asRecord(getPath(props, "upgradePolicy", "rollingUpgradePolicy"));
}

export function automaticOsUpgradeEnabled(props: Props): boolean {
    return getPath(props, "upgradePolicy", "automaticOSUpgradePolicy", "enableAutomaticOSUpgrade") === true;
}

export function capacity(props: Props): number | undefined {
    return asNumber(getPath(props, "sku", "capacity"));
}

export function osDiskSizeGb(type: string, props: Props): number | undefined {
    return asNumber(getPath(vmModel(type, props), "storageProfile", "osDisk", "diskSizeGB"));
}

export function imageReference(type: string, props: Props): Props | undefined {
    return asRecord(getPath(vmModel(type, props), "storageProfile", "imageReference"));
}

export function securityProfile(type: string, props: Props): Props | undefined {
    return asRecord(getPath(vmModel(type, props), "securityProfile"));
}

export interface IpConfiguration {
    /** `nic/ipconfig` names, for messages. */
    label: string;
    publicIPAddressConfiguration: unknown;
}

export function ipConfigurations(type: string, props: Props): IpConfiguration[] {
    const nics = asArray(getPath(vmModel(type, props), "networkProfile", "networkInterfaceConfigurations"));
    return nics.flatMap((nic, n) => {
        const nicName = asString(getPath(nic, "name")) ?? `nic[${n}]`;
        return asArray(getPath(nic, "ipConfigurations")).map((ip, i) => ({
            label: `${nicName}/${asString(getPath(ip, "name")) ?? `ipConfigurations[${i}]`}`,
            publicIPAddressConfiguration: getPath(ip, "publicIPAddressConfiguration"),
        }));
    });
}

/** Extensions declared inline in the scale set model. */
export function inlineExtensions(props: Props): Props[] {
    return asArray(getPath(props, "virtualMachineProfile", "extensionProfile", "extensions"))
        .map(asRecord)
        .filter((e): e is Props => e !== undefined);
}

export type ImageKind = "gallery-version" | "gallery-latest" | "shared-gallery" | "managed-image" | "marketplace" | "missing";

export interface ImageRef {
    kind: ImageKind;
    /** `gallery/definition`, lower case, for gallery images. */
    definitionKey?: string;
    version?: string;
    /** What the reference names, for messages. */
    text: string;
}

const GALLERY_IMAGE = /\/providers\/microsoft\.compute\/galleries\/([^/]+)\/images\/([^/]+)(?:\/versions\/([^/]+))?\/?$/i;
const SHARED_OR_COMMUNITY = /^\/(?:sharedgalleries|communitygalleries)\/([^/]+)\/images\/([^/]+)(?:\/versions\/([^/]+))?\/?$/i;
const MANAGED_IMAGE = /\/providers\/microsoft\.compute\/images\/[^/]+\/?$/i;
export const PINNED_VERSION = /^\d+\.\d+\.\d+$/;

/** The gallery image definition (`gallery/definition`, lower case) an ARM id points into. */
export function galleryDefinitionKey(id: string): string | undefined {
    const m = GALLERY_IMAGE.exec(id);
    return m ? `${m[1]}/${m[2]}`.toLowerCase() : undefined;
}

export function classifyImage(ref: Props | undefined): ImageRef {
    if (!ref) return { kind: "missing", text: "no storageProfile.imageReference" };
    const id = asString(ref.id);
    if (id) {
        const m = GALLERY_IMAGE.exec(id);
        if (m) {
            const version = m[3];
            const definitionKey = `${m[1]}/${m[2]}`.toLowerCase();
            if (version && version.toLowerCase() !== "latest") return { kind: "gallery-version", definitionKey, version, text: id };
            return { kind: "gallery-latest", definitionKey, text: id };
        }
        if (MANAGED_IMAGE.test(id)) return { kind: "managed-image", text: id };
    }
    const shared = asString(ref.sharedGalleryImageId) ?? asString(ref.communityGalleryImageId);
    if (shared) {
        const m = SHARED_OR_COMMUNITY.exec(shared);
        const version = m?.[3];
        return { kind: "shared-gallery", version, text: shared };
    }
    const publisher = asString(ref.publisher);
    if (publisher) {
        const text = [publisher, asString(ref.offer), asString(ref.sku), asString(ref.version)].filter(Boolean).join(":");
        return { kind: "marketplace", version: asString(ref.version), text };
    }
    return { kind: "missing", text: id ?? "an empty imageReference" };
}

/** Azure's default when a rolling upgrade policy leaves a field out. */
export const ROLLING_DEFAULTS = {
    maxBatchInstancePercent: 20,
    maxUnhealthyInstancePercent: 20,
    maxUnhealthyUpgradedInstancePercent: 20,
    pauseTimeBetweenBatches: "PT0S",
};

export function normaliseRegion(region: string): string {
    return region.replace(/\s+/g, "").toLowerCase();
}
