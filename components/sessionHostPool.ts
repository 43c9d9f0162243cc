// One host pool of a ring: the AVD host pool, its desktop application group and workspace, and
// the session-host scale set running the pool's image version.
import * as pulumi from "@pulumi/pulumi";
import * as compute from "@pulumi/azure-native/compute";
import * as desktopvirtualization from "@pulumi/azure-native/desktopvirtualization";
import * as random from "@pulumi/random";
import type { MarketplaceImage, SessionHostsConfig } from "../src/config/types";
import { ROLLOUT_TAG_IGNORE_CHANGES } from "../src/rollout/markerTags";
import type { AgentRegistration } from "../src/sessionHosts/agentRegistration";
import { sessionHostExtensions } from "../src/sessionHosts/extensions";
import { applicationGroupArgs, hostPoolArgs, workspaceArgs } from "../src/sessionHosts/hostPool";
import { marketplaceImageReference, marketplaceImageUrn, sessionHostImageReferenceId } from "../src/sessionHosts/imageReference";
import type { PoolPlacement } from "../src/sessionHosts/naming";
import { registrationTokenWindow } from "../src/sessionHosts/registrationToken";
import { ADMIN_PASSWORD_POLICY, scaleSetArgs } from "../src/sessionHosts/scaleSet";

/** What a pool's hosts boot. */
export type SessionHostImage =
    | {
          kind: "gallery";
          /** `.../galleries/{g}/images/{def}`: referenced instead of the version when `sessionHosts.useLatestImage` is set. */
          imageDefinitionId: pulumi.Input<string>;
          /** `.../galleries/{g}/images/{def}/versions/{X.Y.Z}` (pinned). */
          imageVersionId: pulumi.Input<string>;
      }
    | { kind: "marketplace"; image: MarketplaceImage };

export interface SessionHostPoolArgs {
    /** Ring and pool names, location, resource group, Azure names and tags of the pool's resources. */
    placement: PoolPlacement;
    /** The pool's session-host settings: host pool, size, capacity, network, disks, upgrade policy, join, gate probe. */
    sessionHosts: SessionHostsConfig;
    /** The image the hosts boot. */
    image: SessionHostImage;
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
    /** What the VMSS actually references: the pinned version, the definition when the pool follows latest, or the marketplace image's URN. */
    readonly imageReferenceId: pulumi.Output<string>;

    constructor(name: string, args: SessionHostPoolArgs, opts?: pulumi.ComponentResourceOptions) {
        super("avd-image-rings:rings:SessionHostPool", name, {}, opts);
        const { placement, sessionHosts: hosts } = args;
        const resourceGroupName = placement.resourceGroupName;

        const token = registrationTokenWindow(args.now ?? new Date(), hosts.hostPool.registrationTokenValidityDays);
        const hostPool = new desktopvirtualization.HostPool(`${name}-hostpool`, hostPoolArgs(placement, hosts, token.expirationTime), {
            parent: this,
        });
        const applicationGroup = new desktopvirtualization.ApplicationGroup(
            `${name}-desktop`,
            applicationGroupArgs(placement, hosts.hostPool.friendlyName, hostPool.id),
            { parent: this },
        );
        const workspace = new desktopvirtualization.Workspace(`${name}-workspace`, workspaceArgs(placement, hosts.hostPool.friendlyName, applicationGroup.id), {
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
        const image = args.image;
        const imageReferenceId =
            image.kind === "gallery"
                ? sessionHostImageReferenceId(hosts.useLatestImage, { imageDefinitionId: pulumi.output(image.imageDefinitionId), imageVersionId: pulumi.output(image.imageVersionId) })
                : pulumi.output(marketplaceImageUrn(image.image));
        const imageReference = image.kind === "gallery" ? { id: imageReferenceId } : marketplaceImageReference(image.image);
        const vmss = new compute.VirtualMachineScaleSet(
            `${name}-vmss`,
            scaleSetArgs({
                placement,
                hosts,
                imageReference,
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
