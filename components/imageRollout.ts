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
import type { RingConfig } from "../src/config/types";
import { HEALTH_GATE_COMMAND, healthGateEnvironment, ROLLOUT_COMMAND, rolloutEnvironment, runsRollout, validatedVersionFrom } from "../src/rollout/commands";

export interface ImageRolloutArgs {
    /** Uses stack and sessionHosts (upgradeMode, rollingUpgrade, drain, healthGate). */
    ring: RingConfig;
    vmssId: pulumi.Input<string>;
    hostPoolId: pulumi.Input<string>;
    /** `.../galleries/{g}/images/{def}/versions/{X.Y.Z}`: the version the ring runs. */
    imageVersionId: pulumi.Input<string>;
    /** "X.Y.Z", the ring's configured imageVersion. */
    imageVersion: string;
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
        // The provider's credential settings from the stack config, as ARM_* variables (README "Credentials of the deploy-time tools").
        const credentials = stackProviderCredentials();
        const targets = pulumi.all([args.vmssId, args.hostPoolId, args.imageVersionId]).apply(([vmssId, hostPoolId, imageVersionId]) => ({ vmssId, hostPoolId, imageVersionId }));

        const rollout = runsRollout(args.ring)
            ? new local.Command(
                  `${name}-drain-and-upgrade`,
                  {
                      create: ROLLOUT_COMMAND,
                      ...TOOL_COMMAND_SETTINGS,
                      environment: withProviderCredentials(targets.apply((t) => rolloutEnvironment(args.ring, t)), credentials),
                      triggers: [args.imageVersionId],
                  },
                  { parent: this, dependsOn: opts?.dependsOn },
              )
            : undefined;

        const gate = new local.Command(
            `${name}-health-gate`,
            {
                create: HEALTH_GATE_COMMAND,
                ...TOOL_COMMAND_SETTINGS,
                environment: withProviderCredentials(targets.apply((t) => healthGateEnvironment(args.ring, t)), credentials),
                triggers: [args.imageVersionId],
            },
            { parent: this, dependsOn: rollout ? [rollout] : opts?.dependsOn },
        );

        this.validatedImageVersion = gate.stdout.apply((stdout) => validatedVersionFrom(stdout, args.imageVersion));
        this.registerOutputs({ validatedImageVersion: this.validatedImageVersion });
    }
}
