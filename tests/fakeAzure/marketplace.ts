// Microsoft.Compute marketplace images (api-version 2024-11-01): VirtualMachineImages_List,
// `GET /subscriptions/{s}/providers/Microsoft.Compute/locations/{location}/publishers/{publisher}
// /artifacttypes/vmimage/offers/{offer}/skus/{sku}/versions`. Its 200 body is a bare JSON array of
// VirtualMachineImageResource `{name, location, id}` (VirtualMachineImage_List_MinimumSet_Gen.json),
// not an ARM `{value: [...]}` page; Azure lists it in no particular order. The ids come with ARM's
// capitalised segments, as Azure returns them (`/Subscriptions/.../Providers/Microsoft.Compute/Locations/...`).
import { exampleList, type FakeAzure, type FakeRequest, type FakeResponse, type ResourceProviderModule } from "./server";

export const MARKETPLACE_API_VERSION = "2024-11-01";

export class MarketplaceModule implements ResourceProviderModule {
    private fake?: FakeAzure;
    /** `location/publisher/offer/sku` (lower case) -> versions. */
    private readonly skus = new Map<string, string[]>();

    install(fake: FakeAzure): void {
        this.fake = fake;
        fake.route({
            method: "GET",
            pattern: "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/locations/{location}/publishers/{publisherName}/artifacttypes/vmimage/offers/{offer}/skus/{skus}/versions",
            apiVersion: MARKETPLACE_API_VERSION,
            handler: (req) => this.list(req),
        });
    }

    /** Publishes marketplace versions of a SKU in a region. */
    addVersions(image: { location: string; publisher: string; offer: string; sku: string }, versions: readonly string[]): void {
        const key = skuKey(image.location, image.publisher, image.offer, image.sku);
        this.skus.set(key, [...new Set([...(this.skus.get(key) ?? []), ...versions])]);
    }

    /** The newest version of a SKU (numeric per segment), as Image Builder resolves "latest". */
    latest(location: string, publisher: string, offer: string, sku: string): string | undefined {
        return [...(this.skus.get(skuKey(location, publisher, offer, sku)) ?? [])].sort(compareImageVersions).pop();
    }

    private list(req: FakeRequest): FakeResponse {
        const fake = this.fake;
        if (!fake) throw new Error("MarketplaceModule is not installed");
        const { subscriptionId, location, publisherName, offer, skus } = req.params;
        const versions = this.skus.get(skuKey(location, publisherName, offer, skus));
        // An unknown publisher, offer or SKU: 404 NotFound "Artifact: VMImage was not found.", the answer
        // `az vm image show` reports for a missing image; the spec documents no error body for List.
        if (!versions) return fake.error(404, "NotFound", "Artifact: VMImage was not found.");
        const [sample] = exampleList("compute/2024-11-01/VirtualMachineImage_List_MinimumSet_Gen.json", "200", subscriptionId);
        // Newest first would let a client skip sorting; Azure does not promise an order, so neither does the fake.
        const shuffled = [...versions].sort((a, b) => (hash(a) < hash(b) ? -1 : 1));
        return {
            status: 200,
            body: shuffled.map((name) => ({
                ...sample,
                name,
                location,
                id: `/Subscriptions/${subscriptionId}/Providers/Microsoft.Compute/Locations/${location}/Publishers/${publisherName}/ArtifactTypes/VMImage/Offers/${offer}/Skus/${skus}/Versions/${name}`,
            })),
        };
    }
}

function skuKey(location: string, publisher: string, offer: string, sku: string): string {
    return [location, publisher, offer, sku].join("/").toLowerCase();
}

/** Marketplace versions are Major.Minor.Build decimal numbers. */
export function compareImageVersions(a: string, b: string): number {
    const pa = a.split(".").map(Number);
    const pb = b.split(".").map(Number);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
        const d = (pa[i] ?? 0) - (pb[i] ?? 0);
        if (d !== 0) return d;
    }
    return 0;
}

function hash(text: string): number {
    let h = 7;
    for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) % 1_000_003;
    return h;
}
