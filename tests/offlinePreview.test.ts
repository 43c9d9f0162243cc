import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { exitCodeFor, offlineGalleryVersions, parseArgs, render, runError, runPreview } from "../preview/cli";
import { readStackConfig } from "../preview/stackConfig";
import { SINGLE_IMAGE_DIR } from "./fixtures/singleImageStacks";

const ROOT = join(__dirname, "..");

/** A scratch project with the single-image example stacks, for mutated rings (the fleet has its own tests: fleet.test.ts). */
function scratchProject(): string {
    const dir = mkdtempSync(join(tmpdir(), "avd-rings-"));
    cpSync(join(ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
    for (const f of readdirSync(SINGLE_IMAGE_DIR).filter((f) => /^Pulumi\..+\.yaml$/.test(f))) cpSync(join(SINGLE_IMAGE_DIR, f), join(dir, f));
    return dir;
}

/** Sets a value at a path of `config:` in a stack file, keeping the rest of the file as written. */
function setConfig(dir: string, stack: string, path: (string | number)[], value: unknown): void {
    const file = join(dir, `Pulumi.${stack}.yaml`);
    const doc = parseDocument(readFileSync(file, "utf8"));
    doc.setIn(["config", ...path], value);
    writeFileSync(file, doc.toString());
}

function runCli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        // Exactly what `npm run preview` runs.
        execFile(process.execPath, ["--require", join(ROOT, "preview/loader.cjs"), join(ROOT, "preview/main.ts"), ...args], { cwd }, (err, stdout, stderr) => {
            resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
        });
    });
}

describe("offline preview", function () {
    this.timeout(60000);

    describe("the shipped rings", () => {
        it("preview clean: every ring complete, no mandatory violation, exit 0", async () => {
            const { reports, exitCode } = await runPreview({ stacks: ["test", "pilot", "prod"], format: "json", dir: ROOT, stackDir: SINGLE_IMAGE_DIR });
            assert.equal(exitCode, 0, JSON.stringify(reports.map((r) => ({ stack: r.stack, error: r.error, violations: r.violations })), null, 2));
            for (const r of reports) {
                const types = r.resources.map((x) => x.type);
                for (const t of [
                    "azure-native:resources:ResourceGroup",
                    "azure-native:desktopvirtualization:HostPool",
                    "azure-native:desktopvirtualization:ApplicationGroup",
                    "azure-native:desktopvirtualization:Workspace",
                    "azure-native:compute:VirtualMachineScaleSet",
                ]) {
                    assert.ok(types.includes(t), `${r.stack} has a ${t}`);
                }
                assert.equal(r.outputs.validatedImageVersion, "1.2.0", `${r.stack} validates its version`);
            }
            const test = reports[0];
            for (const t of [
                "azure-native:compute:Gallery",
                "azure-native:compute:GalleryImage",
                "azure-native:managedidentity:UserAssignedIdentity",
                "azure-native:authorization:RoleDefinition",
                "azure-native:authorization:RoleAssignment",
                "azure-native:virtualmachineimages:VirtualMachineImageTemplate",
                "command:local:Command",
            ]) {
                assert.ok(test.resources.some((x) => x.type === t), `the build ring has a ${t}`);
            }
        });

        it("prints realistic ARM ids and the documented JSON shape", async () => {
            const { reports } = await runPreview({ stacks: ["prod"], format: "json", dir: ROOT, stackDir: SINGLE_IMAGE_DIR });
            const json = JSON.parse(render(reports, "json")) as Record<string, unknown>;
            assert.deepEqual(Object.keys(json).sort(), ["outputs", "resources", "stack", "violations"]);
            const outputs = json.outputs as Record<string, string>;
            assert.match(
                outputs.imageVersionId,
                /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/rg-avd-images-test\/providers\/Microsoft\.Compute\/galleries\/avd_golden_images\/images\/avd-win11-m365\/versions\/1\.2\.0$/,
            );
            assert.match(outputs.vmssId, /\/resourceGroups\/rg-avd-prod\/providers\/Microsoft\.Compute\/virtualMachineScaleSets\//);
            const vmss = (json.resources as Array<{ type: string; inputs: Record<string, unknown>; parent: string | null }>).find(
                (r) => r.type === "azure-native:compute:VirtualMachineScaleSet",
            );
            assert.ok(vmss?.parent, "the scale set has a parent component");
            assert.equal((vmss.inputs.upgradePolicy as { mode: string }).mode, "Manual");
        });

        it("never prints a secret", async () => {
            const { reports } = await runPreview({ stacks: ["test", "prod"], format: "json", dir: ROOT, stackDir: SINGLE_IMAGE_DIR });
            const text = render(reports, "json") + render(reports, "text") + render(reports, "markdown");
            assert.ok(text.includes("[secret]"), "secrets are shown masked");
            for (const leaked of ["offline-preview-registration-token", "offline-preview-not-a-password"]) {
                assert.ok(!text.includes(leaked), `${leaked} must not be printed`);
            }
        });

        it("renders a pull-request comment with each ring's version and policy result", async () => {
            const { reports } = await runPreview({ stacks: ["test", "pilot", "prod"], format: "markdown", dir: ROOT, stackDir: SINGLE_IMAGE_DIR });
            const md = render(reports, "markdown");
            assert.match(md, /\| `prod` \| 1\.2\.0 \| \d+ \| 0 \| \d+ \| ✅ ok \|/);
            assert.match(md, /### `pilot`/);
        });
    });

    describe("mutated rings fail with the right policy or message", () => {
        let dir: string;
        beforeEach(() => (dir = scratchProject()));
        afterEach(() => rmSync(dir, { recursive: true, force: true }));

        const mandatory = async (stack: string) => {
            const { reports, exitCode } = await runPreview({ stacks: [stack], format: "json", dir });
            return { exitCode, report: reports[0], policies: reports[0].violations.filter((v) => v.enforcementLevel === "mandatory").map((v) => v.policy) };
        };

        it("prod set to Rolling", async () => {
            setConfig(dir, "prod", ["avd-image-rings:sessionHosts", "upgradeMode"], "Rolling");
            const r = await mandatory("prod");
            assert.equal(r.exitCode, 1);
            assert.ok(r.policies.includes("prod-vmss-manual-upgrade"), r.policies.join(", "));
        });

        it("prod set to Automatic", async () => {
            setConfig(dir, "prod", ["avd-image-rings:sessionHosts", "upgradeMode"], "Automatic");
            const r = await mandatory("prod");
            assert.equal(r.exitCode, 1);
            assert.ok(r.policies.includes("prod-vmss-manual-upgrade"));
        });

        it("a 129 GB OS disk", async () => {
            setConfig(dir, "pilot", ["avd-image-rings:sessionHosts", "osDiskSizeGb"], 129);
            const r = await mandatory("pilot");
            assert.equal(r.exitCode, 1);
            assert.ok(r.policies.includes("os-disk-size-cap"), r.policies.join(", "));
        });

        it("an inline step that downloads and installs the AVD agent", async () => {
            setConfig(dir, "test", ["avd-image-rings:image", "customizations", "inlineScripts", "install-agent"], [
                "$url = 'https://go.microsoft.com/fwlink/?linkid=2310011'",
                "Invoke-WebRequest -Uri $url -OutFile C:\\Temp\\agent.msi",
                "Start-Process msiexec.exe -ArgumentList '/i C:\\Temp\\agent.msi /quiet' -Wait",
            ]);
            const r = await mandatory("test");
            assert.equal(r.exitCode, 1);
            assert.ok(r.policies.includes("no-avd-agent-in-image"), r.policies.join(", "));
        });

        it("prod pinned ahead of what pilot validated: promotion refused, exit 1", async () => {
            setConfig(dir, "prod", ["avd-image-rings:imageVersion"], "1.3.0");
            setConfig(dir, "test", ["avd-image-rings:imageVersion"], "1.3.0");
            const { reports, exitCode } = await runPreview({ stacks: ["prod"], format: "json", dir });
            assert.equal(exitCode, 1);
            assert.equal(reports[0].error?.kind, "promotion");
            assert.match(reports[0].error?.message ?? "", /Pulumi\.prod\.yaml: avd-image-rings:imageVersion 1\.3\.0 is refused: contoso\/avd-image-rings\/pilot has validated 1\.2\.0/);
            assert.equal(reports[0].resources.length, 0, "nothing is planned for a refused ring");
        });

        it("prod rolled back to an older published version: allowed", async () => {
            setConfig(dir, "prod", ["avd-image-rings:imageVersion"], "1.1.0");
            setConfig(dir, "pilot", ["avd-image-rings:imageVersion"], "1.2.0");
            const { reports, exitCode } = await runPreview({ stacks: ["prod"], format: "json", dir });
            assert.equal(exitCode, 0, JSON.stringify(reports[0].error));
            assert.match(String(reports[0].outputs.imageVersionId), /\/versions\/1\.1\.0$/);
        });

        it("bad config: one message naming the file and key, exit 2 (subprocess)", async () => {
            setConfig(dir, "prod", ["avd-image-rings:sessionHosts", "osDiskSizeGb"], "abc");
            const { code, stdout, stderr } = await runCli(["--stack", "prod"], dir);
            assert.equal(code, 2);
            assert.match(stdout, /Configuration error: Pulumi\.prod\.yaml: avd-image-rings:sessionHosts\.osDiskSizeGb must be an integer, got "abc"/);
            assert.ok(!/\n\s+at /.test(stdout + stderr), "no stack trace");
        });

        it("a mandatory violation exits 1 from the real command line (subprocess)", async () => {
            setConfig(dir, "prod", ["avd-image-rings:sessionHosts", "upgradeMode"], "Rolling");
            const { code, stdout } = await runCli(["--stack", "prod"], dir);
            assert.equal(code, 1);
            assert.match(stdout, /\[mandatory\] prod-vmss-manual-upgrade/);
        });
    });

    describe("error contract: exit 2, one message naming the file and key, no plan (subprocess)", () => {
        let dir: string;
        beforeEach(() => (dir = scratchProject()));
        afterEach(() => rmSync(dir, { recursive: true, force: true }));

        /** Runs `npm run preview -- --json` and returns the one error object it printed. */
        const jsonError = async (args: string[]) => {
            const { code, stdout, stderr } = await runCli([...args, "--json"], dir);
            assert.equal(code, 2, stdout + stderr);
            const doc = JSON.parse(stdout) as Record<string, unknown>;
            assert.deepEqual(Object.keys(doc), ["error"], "only the error object, nothing that looks like a plan");
            assert.ok(!/\n\s+at /.test(stdout + stderr), "no stack trace");
            return doc.error as { kind: string; file?: string; key?: string; message: string };
        };

        it("--json on bad config prints exactly one error object", async () => {
            setConfig(dir, "prod", ["avd-image-rings:sessionHosts", "osDiskSizeGb"], "abc");
            const error = await jsonError(["--stack", "prod"]);
            assert.deepEqual(
                { kind: error.kind, file: error.file, key: error.key },
                { kind: "config", file: "Pulumi.prod.yaml", key: "avd-image-rings:sessionHosts.osDiskSizeGb" },
            );
            assert.match(error.message, /must be an integer, got "abc"/);
        });

        it("a near-miss namespace is refused with did-you-mean", async () => {
            const file = join(dir, "Pulumi.prod.yaml");
            writeFileSync(file, readFileSync(file, "utf8").replace("  avd-image-rings:tags:", "  avd-image-ring:tags:"));
            const error = await jsonError(["--stack", "prod"]);
            assert.equal(error.key, "avd-image-ring:tags");
            assert.match(error.message, /did you mean "avd-image-rings:tags"\?/);
        });

        it("a secret in a bad key is never echoed", async () => {
            setConfig(dir, "prod", ["avd-image-rings:tags"], { secure: "v1:c2VjcmV0LXZhbHVl" });
            const { code, stdout, stderr } = await runCli(["--stack", "prod"], dir);
            assert.equal(code, 2);
            assert.match(stdout, /avd-image-rings:tags must be an object, got a secret value/);
            assert.ok(!(stdout + stderr).includes("offline-preview-secret") && !(stdout + stderr).includes("c2VjcmV0"), stdout);
        });

        it("promoteFrom naming the ring itself, and a cycle, name the file and key", async () => {
            setConfig(dir, "prod", ["avd-image-rings:promoteFrom"], "contoso/avd-image-rings/prod");
            const self = await jsonError(["--stack", "prod"]);
            assert.equal(self.key, "avd-image-rings:promoteFrom");
            assert.match(self.message, /^Pulumi\.prod\.yaml: avd-image-rings:promoteFrom names this ring itself/);

            setConfig(dir, "prod", ["avd-image-rings:promoteFrom"], "contoso/avd-image-rings/pilot");
            setConfig(dir, "pilot", ["avd-image-rings:promoteFrom"], "contoso/avd-image-rings/prod");
            const cycle = await jsonError(["--stack", "prod"]);
            assert.equal(cycle.file, "Pulumi.prod.yaml");
            assert.equal(cycle.key, "avd-image-rings:promoteFrom");
            assert.match(cycle.message, /forms a cycle \(prod -> pilot -> prod\)/);
        });

        it("a stack name that makes an Azure name too long names the stack file", async () => {
            const stack = "prod-" + "x".repeat(50);
            cpSync(join(dir, "Pulumi.prod.yaml"), join(dir, `Pulumi.${stack}.yaml`));
            const error = await jsonError(["--stack", stack]);
            assert.deepEqual({ file: error.file, key: error.key }, { file: `Pulumi.${stack}.yaml`, key: "(stack name)" });
            assert.match(error.message, /the stack name ".*" \(taken from this file's name\) makes the host pool name ".*" 66 characters long; Azure allows at most 64/);
        });

        it("a bad --policy-pack-config file and bad arguments are one error each", async () => {
            writeFileSync(join(dir, "policy.json"), JSON.stringify({ "os-disk-size-cap": { enforcementLevel: "mandatory", maxDiskGb: 5 } }));
            const policy = await jsonError(["--stack", "prod", "--policy-pack-config", join(dir, "policy.json")]);
            assert.equal(policy.kind, "config");
            assert.equal(policy.file, join(dir, "policy.json"));
            const args = await jsonError(["--stack", "prod", "--polcy-pack-config", "x.json"]);
            assert.deepEqual({ kind: args.kind, key: args.key }, { kind: "usage", key: "--polcy-pack-config" });
            assert.match(args.message, /did you mean "--policy-pack-config"\?/);
        });

        it("a broken Pulumi.yaml names that file", async () => {
            writeFileSync(join(dir, "Pulumi.yaml"), "name: [unclosed\n");
            const error = await jsonError(["--stack", "prod"]);
            assert.equal(error.file, "Pulumi.yaml");
        });

        it("a misspelt key declared in Pulumi.yaml is refused with did-you-mean", async () => {
            const file = join(dir, "Pulumi.yaml");
            writeFileSync(file, readFileSync(file, "utf8").replace("  resourceGroupName:\n", "  resourceGroupNames:\n"));
            const { reports, exitCode } = await runPreview({ stacks: ["prod"], format: "json", dir, policies: false });
            assert.equal(exitCode, 2);
            const error = runError(reports);
            assert.deepEqual({ file: error?.file, key: error?.key }, { file: "Pulumi.yaml", key: "config.resourceGroupNames" });
            assert.match(error?.message ?? "", /is not a key of avd-image-rings \(did you mean "resourceGroupName"\?\)/);
        });
    });

    describe("arguments and helpers", () => {
        it("parses several stacks and formats", () => {
            assert.deepEqual(parseArgs(["--stack", "test,pilot", "--json"], ROOT).stacks, ["test", "pilot"]);
            assert.equal(parseArgs(["--stack=prod", "--format", "markdown"], ROOT).format, "markdown");
            assert.throws(() => parseArgs([], ROOT), /--stack is required/);
            assert.throws(() => parseArgs(["--stack", "prod", "--bogus"], ROOT), /unknown argument "--bogus"/);
        });

        it("takes the offline gallery to hold, per image definition, the build ring's version and older pinned versions", () => {
            const single = ["test", "pilot", "prod"].map((s) => readStackConfig(ROOT, s, SINGLE_IMAGE_DIR));
            assert.deepEqual(offlineGalleryVersions(single), { "avd-win11-m365": ["1.2.0"] });
            const fleet = ["test", "pilot", "prod"].map((s) => readStackConfig(ROOT, s));
            assert.deepEqual(offlineGalleryVersions(fleet), { "avd-win11-m365": ["1.2.0"], "avd-win11-dev": ["1.0.0", "1.1.0"] });
        });

        it("exit code: errors beat refusals beat clean", () => {
            const clean = { stack: "a", resources: [], outputs: {}, violations: [] };
            assert.equal(exitCodeFor([clean]), 0);
            assert.equal(exitCodeFor([clean, { ...clean, error: { kind: "promotion" as const, message: "x" } }]), 1);
            assert.equal(exitCodeFor([{ ...clean, error: { kind: "promotion" as const, message: "x" } }, { ...clean, error: { kind: "config" as const, message: "y" } }]), 2);
        });
    });
});
