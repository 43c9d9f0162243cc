// The GalleryRetention component, the protect stacks' reader and the retention config block: the
// plan is computed at preview from the build's published versions and every ring's pins, the
// command gets exactly that plan, the preview shows it, and config mistakes name file and key.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { GalleryRetention } from "../components/galleryRetention";
import { simulatedCommandStdout } from "../preview/commands";
import { evaluate, type Evaluation, type RecordedResource } from "../preview/engine";
import { keyInputs } from "../preview/render";
import { parseRingConfig } from "../src/config/parse";
import { ConfigError } from "../src/config/reader";
import { parseRetention } from "../src/config/retention";
import { Reader } from "../src/config/reader";
import { checkProtectedRing, ownRingPins, readProtectedRings, ringPinsFor, type ProtectedRing } from "../src/lifecycle/protectedRings";
import type { PoolConfig } from "../src/config/types";
import type { RingPin } from "../src/lifecycle/retention";
import { parseRetentionResult } from "../src/lifecycle/retentionCommand";

const SUB = "8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f";
const DEFINITION = `/subscriptions/${SUB}/resourceGroups/rg-avd-images-test/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365`;
const PUBLISHED = ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0", "1.6.0"];
const PINS: RingPin[] = [
    { ring: "test (this ring)", imageVersion: "1.6.0" },
    { ring: "contoso/avd-image-rings/pilot hostPools.default", imageVersion: "1.5.0", validatedImageVersion: "1.5.0" },
    { ring: "contoso/avd-image-rings/prod hostPools.default", imageVersion: "1.3.0", validatedImageVersion: "1.3.0" },
];

function simulation(outputs: Record<string, Record<string, unknown>> = {}) {
    return {
        subscriptionId: SUB,
        tenantId: "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
        stackOutputs: (name: string) => outputs[name],
        commandStdout: (args: Parameters<typeof simulatedCommandStdout>[0]) => simulatedCommandStdout(args, { "avd-win11-m365": PUBLISHED }),
    };
}

async function evaluateRetention(keep: number, pins: RingPin[] = PINS): Promise<Evaluation> {
    return evaluate({
        project: "avd-image-rings",
        stack: "test",
        config: {},
        secretKeys: [],
        simulation: simulation(),
        program: async () => {
            const r = new GalleryRetention("gallery-retention", {
                imageDefinitionId: DEFINITION,
                publishedImageVersions: pulumi.output(PUBLISHED),
                retention: { keep, protectStacks: [], deadlineMinutes: 45 },
                pins,
            });
            return { plannedDeletions: r.plannedDeletions, deleted: r.result.apply((x) => x.deleted) };
        },
    });
}

function byName(e: Evaluation, name: string): RecordedResource {
    const r = e.resources.find((x) => x.name === name);
    assert.ok(r, `resource ${name} is registered (have: ${e.resources.map((x) => x.name).join(", ")})`);
    return r;
}

describe("GalleryRetention component", () => {
    it("plans the deletions from the build's published versions and every ring's pins, and hands the command exactly that plan", async () => {
        const e = await evaluateRetention(2);
        // keep 2: 1.6.0, 1.5.0; pins 1.6.0, 1.5.0, 1.3.0; rollback targets 1.5.0, 1.4.0, 1.2.0.
        assert.deepEqual(e.outputs.plannedDeletions, ["1.0.0", "1.1.0"]);
        const command = byName(e, "gallery-retention-delete-old-versions");
        assert.equal(command.parent, byName(e, "gallery-retention").urn);
        assert.equal(command.inputs.create, "node_modules/.bin/tsx tools/retention.ts");
        const env = command.inputs.environment as Record<string, string>;
        assert.deepEqual(Object.keys(env).sort(), ["AVD_IMAGE_DEFINITION_ID", "AVD_RETENTION_DEADLINE_MINUTES", "AVD_RETENTION_KEEP", "AVD_RETENTION_PINS", "AVD_RETENTION_PLANNED"]);
        assert.equal(env.AVD_IMAGE_DEFINITION_ID, DEFINITION);
        assert.equal(env.AVD_RETENTION_PLANNED, "1.0.0,1.1.0");
        assert.equal(env.AVD_RETENTION_KEEP, "2");
        assert.equal(env.AVD_RETENTION_DEADLINE_MINUTES, "45");
        assert.deepEqual(JSON.parse(env.AVD_RETENTION_PINS), PINS);
        assert.deepEqual(command.inputs.triggers, [DEFINITION, "retention plan: delete 1.0.0, 1.1.0"]);
        assert.equal(command.inputs.logging, "stderr", "progress lines reach pulumi up");
        assert.deepEqual(e.outputs.deleted, ["1.0.0", "1.1.0"], "the preview's dry run reports the plan as deleted");
    });

    it("shows the dry run on the command's line of the offline preview", async () => {
        const e = await evaluateRetention(2);
        assert.equal(keyInputs(byName(e, "gallery-retention-delete-old-versions")), "tools/retention.ts: dry run, delete 1.0.0, 1.1.0");
        const none = await evaluateRetention(7);
        assert.equal(keyInputs(byName(none, "gallery-retention-delete-old-versions")), "tools/retention.ts: dry run, delete nothing");
        assert.equal((byName(none, "gallery-retention-delete-old-versions").inputs.environment as Record<string, string>).AVD_RETENTION_PLANNED, "none");
    });

    it("parses the tool's result and refuses output that is not it", () => {
        const ok = parseRetentionResult(`progress\n${JSON.stringify({ imageDefinitionId: DEFINITION, planned: ["1.0.0"], deleted: [], skipped: [], failed: [{ version: "1.0.0", error: "409 Conflict" }] })}`);
        assert.deepEqual(ok.failed, [{ version: "1.0.0", error: "409 Conflict" }]);
        assert.throws(() => parseRetentionResult("Error: boom"), /tools\/retention\.ts: its last stdout line is not JSON/);
        assert.throws(() => parseRetentionResult(JSON.stringify({ imageDefinitionId: DEFINITION, planned: [], deleted: [], skipped: [{ version: "1.0.0" }], failed: [] })), /"skipped" list of \{version, reason\}/);
    });
});

describe("protect stacks (src/lifecycle/protectedRings.ts)", () => {
    const fleet: ProtectedRing = {
        stack: "contoso/avd-image-rings/prod",
        outputs: {
            images: { win11: { imageVersion: "1.3.0", validatedImageVersion: "1.2.0" }, win10: { imageVersion: "4.0.0" } },
            hostPools: {
                finance: { image: "win11", imageVersion: "1.1.0", validatedImageVersion: "1.1.0" },
                kiosk: { image: "win10", imageVersion: "4.0.0" },
                breakglass: { image: "marketplace" },
            },
        },
    };

    it("reads what each image and each host pool on it pins and validated", () => {
        assert.deepEqual(ringPinsFor(fleet, "win11"), [
            { ring: "contoso/avd-image-rings/prod images.win11", imageVersion: "1.3.0", validatedImageVersion: "1.2.0" },
            { ring: "contoso/avd-image-rings/prod hostPools.finance", imageVersion: "1.1.0", validatedImageVersion: "1.1.0" },
        ]);
        assert.deepEqual(ringPinsFor(fleet, "win10"), [
            { ring: "contoso/avd-image-rings/prod images.win10", imageVersion: "4.0.0", validatedImageVersion: undefined },
            { ring: "contoso/avd-image-rings/prod hostPools.kiosk", imageVersion: "4.0.0", validatedImageVersion: undefined },
        ]);
    });

    it("takes the build ring's own pins from its config: the version it builds and each pool's version of the image", () => {
        const pool = (name: string, source: PoolConfig["source"]) => ({ name, source }) as PoolConfig;
        const ring = {
            stack: "test",
            imageVersions: { win11: "2.1.0", win10: "4.0.0" },
            hostPools: {
                canary: pool("canary", { kind: "gallery", image: "win11", imageVersion: "2.1.0" }),
                steady: pool("steady", { kind: "gallery", image: "win11", imageVersion: "2.0.0" }),
                kiosk: pool("kiosk", { kind: "gallery", image: "win10", imageVersion: "4.0.0" }),
                breakglass: pool("breakglass", { kind: "marketplace", image: { publisher: "p", offer: "o", sku: "s", version: "latest" } }),
            },
        };
        assert.deepEqual(ownRingPins(ring, "win11"), [
            { ring: "test (this ring) images.win11", imageVersion: "2.1.0" },
            { ring: "test (this ring) hostPools.canary", imageVersion: "2.1.0" },
            { ring: "test (this ring) hostPools.steady", imageVersion: "2.0.0" },
        ]);
    });

    it("applies the single-image outputs of a ring deployed before the fleet outputs to every image (its image is not named)", () => {
        const single: ProtectedRing = { stack: "contoso/avd-image-rings/pilot", outputs: { imageVersion: "1.2.0", validatedImageVersion: "1.1.0" } };
        for (const image of ["default", "win11"]) assert.deepEqual(ringPinsFor(single, image), [{ ring: "contoso/avd-image-rings/pilot", imageVersion: "1.2.0", validatedImageVersion: "1.1.0" }]);
    });

    it("refuses a stack that exports none of the outputs, naming the file and the list entry", () => {
        assert.throws(
            () => checkProtectedRing({ stack: "contoso/avd-image-rings/prod", outputs: { galleryId: "x" } }, "Pulumi.test.yaml", 1),
            (e: unknown) =>
                e instanceof ConfigError &&
                e.file === "Pulumi.test.yaml" &&
                e.key === "avd-image-rings:retention.protectStacks[1]" &&
                /contoso\/avd-image-rings\/prod exports none of images, hostPools, imageVersion, validatedImageVersion.*pulumi up -s prod/.test(e.message),
        );
    });

    it("reads the stacks through StackReferences at preview", async () => {
        let read: ProtectedRing[] = [];
        const e = await evaluate({
            project: "avd-image-rings",
            stack: "test",
            config: {},
            secretKeys: [],
            simulation: simulation({ "contoso/avd-image-rings/prod": fleet.outputs, "contoso/avd-image-rings/pilot": { imageVersion: "1.2.0", validatedImageVersion: "1.2.0" } }),
            program: async () => {
                read = await readProtectedRings(["contoso/avd-image-rings/pilot", "contoso/avd-image-rings/prod"], "Pulumi.test.yaml");
                return {};
            },
        });
        assert.deepEqual(
            e.resources.filter((r) => r.type === "pulumi:pulumi:StackReference").map((r) => [r.name, r.inputs.name]),
            [
                ["retention-contoso-avd-image-rings-pilot", "contoso/avd-image-rings/pilot"],
                ["retention-contoso-avd-image-rings-prod", "contoso/avd-image-rings/prod"],
            ],
        );
        assert.deepEqual(read[0], { stack: "contoso/avd-image-rings/pilot", outputs: { imageVersion: "1.2.0", validatedImageVersion: "1.2.0" } });
        assert.deepEqual(ringPinsFor(read[1], "win11").map((p) => p.imageVersion), ["1.3.0", "1.1.0"]);
    });
});

describe("retention config (avd-image-rings:retention)", () => {
    const BUILD = { stack: "test" };
    const parse = (value: unknown, ring: { stack: string; promoteFrom?: string } = BUILD) => {
        const r = Reader.root("Pulumi.test.yaml", "avd-image-rings", value === undefined ? {} : { retention: value });
        const parsed = parseRetention(r, ring);
        r.done();
        return parsed;
    };
    const fails = (value: unknown, key: string, message: RegExp, ring?: { stack: string; promoteFrom?: string }) =>
        assert.throws(
            () => parse(value, ring),
            (e: unknown) => e instanceof ConfigError && e.file === "Pulumi.test.yaml" && e.key === key && message.test(e.message) && e.message.startsWith(`Pulumi.test.yaml: ${key} `),
        );

    it("is off unless set, defaults keep to 5 and the deadline to 60 minutes", () => {
        assert.equal(parse(undefined), undefined);
        assert.deepEqual(parse({ protectStacks: ["contoso/avd-image-rings/pilot"] }), { keep: 5, protectStacks: ["contoso/avd-image-rings/pilot"], deadlineMinutes: 60 });
        assert.deepEqual(parse({ keep: "3", protectStacks: [], deadlineMinutes: 120 }), { keep: 3, protectStacks: [], deadlineMinutes: 120 });
    });

    it("names the file and key of every mistake", () => {
        fails({ keep: 0, protectStacks: [] }, "avd-image-rings:retention.keep", /must be between 1 and 100, got 0/);
        fails({ keep: 101, protectStacks: [] }, "avd-image-rings:retention.keep", /must be between 1 and 100/);
        fails({ keep: 2.5, protectStacks: [] }, "avd-image-rings:retention.keep", /must be an integer/);
        fails({ keep: 3 }, "avd-image-rings:retention.protectStacks", /is required: list every stack that runs this ring's images/);
        fails({ protectStacks: ["pilot"] }, "avd-image-rings:retention.protectStacks[0]", /fully-qualified stack name/);
        fails({ protectStacks: ["contoso/avd-image-rings/test"] }, "avd-image-rings:retention.protectStacks[0]", /names this ring itself/);
        fails({ protectStacks: ["contoso/avd-image-rings/prod", "contoso/avd-image-rings/prod"] }, "avd-image-rings:retention.protectStacks[1]", /twice/);
        fails({ protectStacks: [], deadlineMinutes: 1 }, "avd-image-rings:retention.deadlineMinutes", /between 5 and 720/);
        fails({ protectStacks: [], kep: 3 }, "avd-image-rings:retention.kep", /not a known key \(did you mean "keep"\?\)/);
        fails("5", "avd-image-rings:retention", /must be an object/);
        fails({ protectStacks: [] }, "avd-image-rings:retention", /only allowed in the build ring/, { stack: "prod", promoteFrom: "contoso/avd-image-rings/pilot" });
    });

    it("is part of the ring config and a near miss of its key is suggested", () => {
        const values = {
            imageVersion: "1.2.0",
            promoteFrom: "contoso/avd-image-rings/pilot",
            location: "westeurope",
            sessionHosts: { vmSize: "Standard_D4s_v5", capacity: 2, computerNamePrefix: "avdprd", subnetId: `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-avd/subnets/snet-avd`, osDiskSizeGb: 128, upgradeMode: "Manual" },
        };
        assert.equal(parseRingConfig({ stack: "prod", values, secret: () => undefined }).retention, undefined);
        assert.throws(() => parseRingConfig({ stack: "prod", values: { ...values, retenton: { keep: 3 } }, secret: () => undefined }), /avd-image-rings:retenton is not a known key \(did you mean "retention"\?\)/);
    });
});
