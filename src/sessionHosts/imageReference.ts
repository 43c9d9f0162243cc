// Which image the scale set references. A pinned version is the default: the VMSS model then
// only changes when the ring's imageVersion changes, which is what drives a rollout. The image
// definition id alone means "latest version", which moves on its own whenever a version is
// published; it is used only when the ring opts in (the policy pack flags it outside test).
// A break-glass pool references a marketplace image by publisher, offer, sku and version instead.
import type { MarketplaceImage } from "../config/types";

export interface ImageIds<T> {
    /** `.../galleries/{g}/images/{def}`: Azure resolves it to the latest version at deploy time. */
    imageDefinitionId: T;
    /** `.../galleries/{g}/images/{def}/versions/{X.Y.Z}`. */
    imageVersionId: T;
}

export function sessionHostImageReferenceId<T>(useLatestImage: boolean, ids: ImageIds<T>): T {
    return useLatestImage ? ids.imageDefinitionId : ids.imageVersionId;
}

/** The scale set's `imageReference` for a marketplace image. */
export function marketplaceImageReference(m: MarketplaceImage): MarketplaceImage {
    return { publisher: m.publisher, offer: m.offer, sku: m.sku, version: m.version };
}

/** `publisher:offer:sku:version`, the URN form `az vm create --image` and the tools' AVD_MARKETPLACE_IMAGE use. */
export function marketplaceImageUrn(m: MarketplaceImage): string {
    return `${m.publisher}:${m.offer}:${m.sku}:${m.version}`;
}
