import { strict as assert } from "node:assert";
import { join } from "node:path";
import { render, runPreview } from "../preview/cli";
import type { StackReport } from "../preview/render";
import { SINGLE_IMAGE_DIR } from "./fixtures/singleImageStacks";

const ROOT = join(__dirname, "..");

interface JsonResource {
    urn: string;
    type: string;
    name: string;
    options: { protect: boolean; retainOnDelete: boolean; deleteBeforeReplace: boolean; replaceOnChanges: string[]; ignoreChanges: string[]; dependsOn: string[] };
}

function byName(resources: JsonResource[], type: string, name: string): JsonResource {
    const found = resources.find((r) => r.type === type && r.name === name);
    assert.ok(found, `${type} ${name} is in the plan`);
    return found;
}

describe("image estate protection (offline preview of the single-image rings; the fleet's in fleet.test.ts)", function () {
    this.timeout(60000);
    let reports: StackReport[];
    before(async () => {
        ({ reports } = await runPreview({ stacks: ["test", "pilot"], format: "json", dir: ROOT, stackDir: SINGLE_IMAGE_DIR, policies: false }));
    });

    const json = (stack: string): JsonResource[] => {
        const report = reports.find((r) => r.stack === stack);
        assert.ok(report && !report.error, `${stack} previews without error`);
        return (JSON.parse(render([report], "json")) as { resources: JsonResource[] }).resources;
    };

    it("--json shows the gallery, its image definition and the build ring's resource group protected and retained on delete", () => {
        const resources = json("test");
        for (const [type, name] of [
            ["azure-native:compute:Gallery", "gallery-gallery"],
            ["azure-native:compute:GalleryImage", "gallery-definition"],
            ["azure-native:resources:ResourceGroup", "ring"],
        ]) {
            const r = byName(resources, type, name);
            assert.equal(r.options.protect, true, `${name} protected`);
            assert.equal(r.options.retainOnDelete, true, `${name} retained on delete`);
        }
    });

    it("--json shows the AIB template's replacement options and its explicit dependency on the role assignment", () => {
        const resources = json("test");
        const template = byName(resources, "azure-native:virtualmachineimages:VirtualMachineImageTemplate", "golden-image-template");
        assert.deepEqual(template.options.replaceOnChanges, ["*"]);
        assert.equal(template.options.deleteBeforeReplace, false, "without a staging resource group the old template may live until the new one exists");
        assert.equal(template.options.protect, false);
        const assignment = byName(resources, "azure-native:authorization:RoleAssignment", "golden-image-image-role-assignment");
        assert.ok(template.options.dependsOn.includes(assignment.urn), "the template waits for the identity's role on the gallery");
        for (const urn of template.options.dependsOn) assert.match(urn, /^urn:pulumi:test::avd-image-rings::/);
    });

    it("a promoted ring's resource group is not protected: it holds only that ring's session hosts", () => {
        const rg = byName(json("pilot"), "azure-native:resources:ResourceGroup", "ring");
        assert.equal(rg.options.protect, false);
        assert.equal(rg.options.retainOnDelete, false);
    });

    it("the text plan marks exactly the protected resources and explains the mark", () => {
        const report = reports.find((r) => r.stack === "test");
        assert.ok(report);
        const lines = render([report], "text").split("\n");
        const marked = lines.filter((l) => l.includes(" [protected]")).map((l) => /(\S+) \[protected\]/.exec(l)?.[1]);
        assert.deepEqual(marked.sort(), ["gallery-definition", "gallery-gallery", "ring"]);
        assert.ok(lines.some((l) => l.startsWith("[protected]: `pulumi destroy`")), "a legend says what the mark means");
        const pilot = reports.find((r) => r.stack === "pilot");
        assert.ok(pilot);
        assert.ok(!render([pilot], "text").includes("[protected]"), "pilot's plan has nothing protected and no legend");
    });
});
