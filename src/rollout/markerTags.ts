// The two tags the rollout keeps on a session-host scale set (tools/rollout/marker.ts writes
// them): the program never sets them, and ignores them on the scale set so that a refreshed
// state never turns them into a diff that would remove them while a rollout needs them.
export const ROLLOUT_LOCK_TAG = "avd-image-rings-rollout-lock";
export const ROLLOUT_DRAINED_TAG = "avd-image-rings-rollout-drained";

/** The scale set's `ignoreChanges` entries for them. */
export const ROLLOUT_TAG_IGNORE_CHANGES = [`tags["${ROLLOUT_LOCK_TAG}"]`, `tags["${ROLLOUT_DRAINED_TAG}"]`];
