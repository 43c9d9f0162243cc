// Which image the scale set references. A pinned version is the default: the VMSS model then
// only changes when the ring's imageVersion changes, which is what drives a rollout. The image
// definition id alone means "latest version", which moves on its own whenever a version is
// published; it is used only when the ring opts in (the policy pack flags it outside test).

export interface ImageIds<T> {
    /** `.../galleries/{g}/images/{def}`: Azure resolves it to the latest version at deploy time. */
    imageDefinitionId: T;
    /** `.../galleries/{g}/images/{def}/versions/{X.Y.Z}`. */
    imageVersionId: T;
}

export function sessionHostImageReferenceId<T>(useLatestImage: boolean, ids: ImageIds<T>): T {
    return useLatestImage ? ids.imageDefinitionId : ids.imageVersionId;
}
