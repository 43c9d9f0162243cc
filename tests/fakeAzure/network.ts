// Microsoft.Network subnets (api-version 2024-05-01, the version @pulumi/azure-native 3 deploys
// subnets with) for the rollout's preflight: GET subnet, answered 200 from the spec's example
// (network/2024-05-01/SubnetGet.json) with the address prefix(es) and the read-only
// `ipConfigurations` list the spec gives a subnet: one `{id}` per IP configuration that holds an
// address in it. Addresses come from fixed holders (other VMs, private endpoints: seeded ids) and
// from the instances of fake scale sets placed in the subnet, one primary IP configuration per
// instance as the program's scale set model declares (src/sessionHosts/scaleSet.ts), so a scale
// set that grows takes addresses as in Azure. A missing subnet answers 404 NotFound as Network does.
import { parseResourceId } from "../../tools/azure/ids";
import type { ComputeModule } from "./compute";
import { exampleBody, type FakeAzure, type FakeRequest, type FakeResponse, type ResourceProviderModule } from "./server";

export const NETWORK_API_VERSION = "2024-05-01";

export interface SubnetSeed {
    /** `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{name}` */
    id: string;
    /** One IPv4 prefix ("10.0.1.0/24"); `addressPrefixes` when the subnet has several. */
    addressPrefix?: string;
    addressPrefixes?: string[];
    /** IP configurations of other resources in the subnet (ARM ids). */
    otherIpConfigurations?: string[];
    /** Scale sets whose instances take one address each, with the NIC configuration's name. */
    scaleSets?: Array<{ id: string; networkInterfaceName: string }>;
}

interface SubnetState {
    seed: SubnetSeed;
}

export class NetworkModule implements ResourceProviderModule {
    private readonly subnets = new Map<string, SubnetState>();
    private fake?: FakeAzure;

    constructor(private readonly options: { compute?: ComputeModule } = {}) {}

    install(fake: FakeAzure): void {
        this.fake = fake;
        const subnet = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{subnetName}";
        fake.route({ method: "GET", pattern: subnet, apiVersion: NETWORK_API_VERSION, handler: (r) => this.getSubnet(r) });
    }

    addSubnet(seed: SubnetSeed): void {
        if (!seed.addressPrefix && !seed.addressPrefixes?.length) throw new Error(`subnet ${seed.id} needs an address prefix`);
        this.subnets.set(seed.id.toLowerCase(), { seed });
    }

    /** Adds holders of addresses (e.g. another team's VMs took some meanwhile). */
    addIpConfigurations(subnetId: string, ids: string[]): void {
        const s = this.state(subnetId);
        s.seed = { ...s.seed, otherIpConfigurations: [...(s.seed.otherIpConfigurations ?? []), ...ids] };
    }

    /** Every IP configuration id in the subnet now. */
    ipConfigurations(subnetId: string): string[] {
        const seed = this.state(subnetId).seed;
        const compute = this.options.compute;
        const fromScaleSets = (seed.scaleSets ?? []).flatMap((ss) =>
            (compute?.instanceIds(ss.id) ?? []).map((i) => `${ss.id}/virtualMachines/${i}/networkInterfaces/${ss.networkInterfaceName}/ipConfigurations/ipconfig1`),
        );
        return [...(seed.otherIpConfigurations ?? []), ...fromScaleSets];
    }

    private state(subnetId: string): SubnetState {
        const s = this.subnets.get(subnetId.toLowerCase());
        if (!s) throw new Error(`no fake subnet ${subnetId}`);
        return s;
    }

    private getSubnet(req: FakeRequest): FakeResponse {
        const fake = this.fake as FakeAzure;
        const s = this.subnets.get(req.path.toLowerCase());
        if (!s) {
            // Network's own answer for a missing child resource (not ARM's ResourceNotFound).
            return fake.error(404, "NotFound", `Resource ${req.path} not found.`);
        }
        const id = parseResourceId(s.seed.id);
        const body = exampleBody("network/2024-05-01/SubnetGet.json", "200");
        const props = (body.properties ?? {}) as Record<string, unknown>;
        body.id = s.seed.id;
        body.name = id.name;
        body.etag = `W/"${req.now.toString(16)}"`;
        body.type = "Microsoft.Network/virtualNetworks/subnets";
        if (s.seed.addressPrefixes?.length) {
            delete props.addressPrefix;
            props.addressPrefixes = [...s.seed.addressPrefixes];
        } else props.addressPrefix = s.seed.addressPrefix;
        const ipConfigurations = this.ipConfigurations(s.seed.id);
        // Network leaves out an empty read-only list rather than sending [].
        if (ipConfigurations.length > 0) props.ipConfigurations = ipConfigurations.map((x) => ({ id: x }));
        body.properties = props;
        return { status: 200, body };
    }
}
