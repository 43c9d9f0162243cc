// One ring's Azure Virtual Desktop environment: host pool, desktop application group, workspace
// and the session-host scale set running the ring's image version.
import * as pulumi from "@pulumi/pulumi";
import * as compute from "@pulumi/azure-native/compute";
import * as desktopvirtualization from "@pulumi/azure-native/desktopvirtualization";
import * as random from "@pulumi/random";
import type { RingConfig } from "../src/config/types";
import { ROLLOUT_TAG_IGNORE_CHANGES } from "../src/rollout/markerTags";
import type { AgentRegistration } from "../src/sessionHosts/agentRegistration";
import { sessionHostExtensions } from "../src/sessionHosts/extensions";
import { applicationGroupArgs, hostPoolArgs, workspaceArgs } from "../src/sessionHosts/hostPool";
import { sessionHostImageReferenceId } from "../src/sessionHosts/imageReference";
import { registrationTokenWindow } from "../src/sessionHosts/registrationToken";
import { ADMIN_PASSWORD_POLICY, scaleSetArgs } from "../src/sessionHosts/scaleSet";

export interface SessionHostPoolArgs {
    /** Uses stack, location, tags and sessionHosts. */
    ring: RingConfig;
    resourceGroupName: pulumi.Input<string>;
    /** `.../galleries/{g}/images/{def}` */
    imageDefinitionId: pulumi.Input<string>;
    /** `.../galleries/{g}/images/{def}/versions/{X.Y.Z}` (pinned) */
    imageVersionId: pulumi.Input<string>;
    /** How the AVD agent is installed and registered; the Custom Script Extension by default. */
    agentRegistration?: AgentRegistration;
    /** The clock the registration-token window is chosen by; the current time by default. */
    now?: Date;
}

export class SessionHostPool extends pulumi.ComponentResource {
    readonly hostPoolId: pulumi.Output<string>;
    readonly hostPoolName: pulumi.Output<string>;
    readonly applicationGroupId: pulumi.Output<string>;
    readonly workspaceId: pulumi.Output<string>;
    readonly vmssId: pulumi.Output<string>;
    readonly vmssName: pulumi.Output<string>;
    /** What the VMSS actually references: the pinned version, or the definition when the ring follows latest. */
    readonly imageReferenceId: pulumi.Output<string>;

    constructor(name: string, args: SessionHostPoolArgs, opts?: pulumi.ComponentResourceOptions) {
        super("avd-image-rings:rings:SessionHostPool", name, {}, opts);
        const { ring, resourceGroupName } = args;
        const hosts = ring.sessionHosts;

        const token = registrationTokenWindow(args.now ?? new Date(), hosts.hostPool.registrationTokenValidityDays);
        const hostPool = new desktopvirtualization.HostPool(`${name}-hostpool`, hostPoolArgs(ring, resourceGroupName, token.expirationTime), {
            parent: this,
        });
        const applicationGroup = new desktopvirtualization.ApplicationGroup(
            `${name}-desktop`,
            applicationGroupArgs(ring, resourceGroupName, hostPool.id),
            { parent: this },
        );
        const workspace = new desktopvirtualization.Workspace(`${name}-workspace`, workspaceArgs(ring, resourceGroupName, applicationGroup.id), {
            parent: this,
        });

        // The host pool's GET no longer returns the token; retrieveRegistrationToken does, after the
        // host pool (and so the token's renewal) has been applied.
        const registration = desktopvirtualization.getHostPoolRegistrationTokenOutput(
            { resourceGroupName, hostPoolName: hostPool.name },
            { parent: this, dependsOn: [hostPool] },
        );
        const registrationToken = pulumi.secret(
            pulumi.all([registration, hostPool.name]).apply(([result, hostPoolName]) => {
                if (result.token) return pulumi.output(result.token);
                // Preview reads the host pool as it is: a token that expired since the last `pulumi up` is
                // renewed by this very update, so until then it is unknown, not an error.
                if (pulumi.runtime.isDryRun()) return pulumi.output(pulumi.unknown as unknown as string);
                throw new Error(`host pool ${hostPoolName} returned no registration token after its registration info was renewed`);
            }),
        );

        // The configured secret when there is one; otherwise a generated password, a secret in state.
        const adminPassword =
            hosts.adminPassword ?? new random.RandomPassword(`${name}-admin-password`, ADMIN_PASSWORD_POLICY, { parent: this }).result;
        const imageReferenceId = sessionHostImageReferenceId(hosts.useLatestImage, {
            imageDefinitionId: pulumi.output(args.imageDefinitionId),
            imageVersionId: pulumi.output(args.imageVersionId),
        });
        const vmss = new compute.VirtualMachineScaleSet(
            `${name}-vmss`,
            scaleSetArgs({
                ring,
                resourceGroupName,
                imageReferenceId,
                adminPassword: pulumi.secret(adminPassword),
                extensions: sessionHostExtensions({
                    domainJoin: hosts.domainJoin,
                    healthGate: hosts.healthGate,
                    registrationToken,
                    agentRegistration: args.agentRegistration,
                }),
            }),
            // The rollout's lock and drained-host marker live in these tags (src/rollout/markerTags.ts).
            { parent: this, ignoreChanges: ROLLOUT_TAG_IGNORE_CHANGES },
        );

        this.hostPoolId = hostPool.id;
        this.hostPoolName = hostPool.name;
        this.applicationGroupId = applicationGroup.id;
        this.workspaceId = workspace.id;
        this.vmssId = vmss.id;
        this.vmssName = vmss.name;
        // Resolved once the scale set carries it, so consumers never see a reference the VMSS lacks.
        this.imageReferenceId = pulumi.all([vmss.id, imageReferenceId]).apply(([, id]) => id);
        this.registerOutputs({
            hostPoolId: this.hostPoolId,
            hostPoolName: this.hostPoolName,
            applicationGroupId: this.applicationGroupId,
            workspaceId: this.workspaceId,
            vmssId: this.vmssId,
            vmssName: this.vmssName,
            imageReferenceId: this.imageReferenceId,
        });
    }
}
