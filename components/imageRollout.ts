// Rolls a ring onto its image version and validates it. Manual rings: the drain-aware
// rollout (tools/rollout.ts) and then the health gate (tools/healthGate.ts). Rolling and
// Automatic rings: Azure upgrades the instances itself when the model changes, so only the
// health gate runs, waiting for Azure's rolling upgrade first. Both commands run again when the
// image version changes (triggers) or their own settings change (environment); on an otherwise
// unchanged ring the rollout then finds every host current and the gate validates again. Nothing
// else in a `pulumi up` re-runs them.
import * as local from "@pulumi/command/local";
import * as pulumi from "@pulumi/pulumi";
import { TOOL_COMMAND_SETTINGS } from "../src/tools/commandSettings";
import { stackProviderCredentials, withProviderCredentials } from "../src/tools/providerCredentials";
import type { MarketplaceImage, SessionHostsConfig } from "../src/config/types";
import {
    HEALTH_GATE_COMMAND,
    healthGateEnvironment,
    ROLLOUT_COMMAND,
    rolloutEnvironment,
    runsRollout,
    validatedVersionFrom,
    type RolloutTargets,
} from "../src/rollout/commands";
import { marketplaceImageUrn } from "../src/sessionHosts/imageReference";

/** The image the pool's hosts must end up on and the version the gate validates. */
export type RolloutImage =
    | {
          kind: "gallery";
          /** `.../galleries/{g}/images/{def}/versions/{X.Y.Z}`: the version the pool runs. */
          imageVersionId: pulumi.Input<string>;
          /** "X.Y.Z", the pool's configured version. */
          imageVersion: string;
      }
    | { kind: "marketplace"; image: MarketplaceImage };

export interface ImageRolloutArgs {
    /** The pool's session-host settings the tools read: upgradeMode, rollingUpgrade, drain, rollout and healthGate. */
    sessionHosts: SessionHostsConfig;
    vmssId: pulumi.Input<string>;
    hostPoolId: pulumi.Input<string>;
    image: RolloutImage;
    /** Notification entries of the command's environment (notificationEnvironment, src/config/notifications.ts); default none. */
    notificationEnvironment?: Record<string, pulumi.Input<string>>;
}

export class ImageRollout extends pulumi.ComponentResource {
    /** The version whose health gate passed, parsed from the gate's result. */
    readonly validatedImageVersion: pulumi.Output<string>;

    /**
     * Pass the scale set (or the component that owns it) as `dependsOn` in `opts`: the first
     * command then starts only after `pulumi up` has updated the scale set's model.
     */
    constructor(name: string, args: ImageRolloutArgs, opts?: pulumi.ComponentResourceOptions) {
        super("avd-image-rings:rings:ImageRollout", name, {}, opts);
        const hosts = args.sessionHosts;
        const image = args.image;
        // The provider's credential settings from the stack config, as ARM_* variables (README "Credentials of the deploy-time tools").
        const credentials = { ...stackProviderCredentials(), ...args.notificationEnvironment };
        const imageTrigger = image.kind === "gallery" ? image.imageVersionId : marketplaceImageUrn(image.image);
        const targets = pulumi
            .all([args.vmssId, args.hostPoolId, imageTrigger])
            .apply(([vmssId, hostPoolId, target]): RolloutTargets =>
                image.kind === "gallery" ? { vmssId, hostPoolId, imageVersionId: target } : { vmssId, hostPoolId, marketplaceImage: target },
            );

        const rollout = runsRollout(hosts)
            ? new local.Command(
                  `${name}-drain-and-upgrade`,
                  {
                      create: ROLLOUT_COMMAND,
                      ...TOOL_COMMAND_SETTINGS,
                      environment: withProviderCredentials(targets.apply((t) => rolloutEnvironment(hosts, t)), credentials),
                      triggers: [imageTrigger],
                  },
                  { parent: this, dependsOn: opts?.dependsOn },
              )
            : undefined;

        const gate = new local.Command(
            `${name}-health-gate`,
            {
                create: HEALTH_GATE_COMMAND,
                ...TOOL_COMMAND_SETTINGS,
                environment: withProviderCredentials(targets.apply((t) => healthGateEnvironment(hosts, t)), credentials),
                triggers: [imageTrigger],
            },
            { parent: this, dependsOn: rollout ? [rollout] : opts?.dependsOn },
        );

        this.validatedImageVersion = gate.stdout.apply((stdout) => validatedVersionFrom(stdout, image.kind === "gallery" ? image.imageVersion : image.image.version));
        this.registerOutputs({ validatedImageVersion: this.validatedImageVersion });
    }
}
