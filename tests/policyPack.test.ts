// Every policy of the pack, compliant and violating, run through the analyzer interface: the real
// pack process (policy/index.ts) driven by the offline preview's policy runner.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { POLICY_CONFIG_DIR, startPolicyPack, type AnalyzeOptions, type PolicyInputResource, type PolicyPackHandle, type PolicyViolation } from "../preview/policyRunner";
import * as f from "./fixtures/policy/resources";

const VMSS = "azure-native:compute:VirtualMachineScaleSet";
const VM = "azure-native:compute:VirtualMachine";
const TEMPLATE = "azure-native:virtualmachineimages:VirtualMachineImageTemplate";
const UAI = "azure-native:managedidentity:UserAssignedIdentity";
const ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment";
const ROLE_DEFINITION = "azure-native:authorization:RoleDefinition";

describe("policy pack avd-image-rings-guardrails, through the analyzer interface", () => {
    let pack: PolicyPackHandle;

    before(async function () {
        this.timeout(60_000);
        pack = startPolicyPack();
        await pack.analyze([], { stack: "test", config: null });
    });

    after(() => pack.close());

    /** Violations of `policy` for the stack (plus its Stack resource); no ring config unless given. */
    async function check(policy: string, stack: string, resources: PolicyInputResource[], options: AnalyzeOptions = {}): Promise<PolicyViolation[]> {
        const all = await pack.analyze([f.stackResource(stack), ...resources], { stack, config: null, ...options });
        return all.filter((v) => v.policy === policy);
    }

    function assertMandatory(violations: PolicyViolation[], ...fragments: string[]): void {
        assert.equal(violations.length, 1, JSON.stringify(violations, null, 2));
        assert.equal(violations[0].enforcementLevel, "mandatory");
        for (const fragment of fragments) assert.ok(violations[0].message.includes(fragment), `"${fragment}" not in: ${violations[0].message}`);
    }

    function assertAdvisory(violations: PolicyViolation[], ...fragments: string[]): void {
        assert.equal(violations.length, 1, JSON.stringify(violations, null, 2));
        assert.equal(violations[0].enforcementLevel, "advisory");
        for (const fragment of fragments) assert.ok(violations[0].message.includes(fragment), `"${fragment}" not in: ${violations[0].message}`);
    }

    const vmss = (stack: string, inputs: object, name = "vmss") => f.resource(stack, VMSS, name, inputs);
    const template = (stack: string, inputs: object) => f.resource(stack, TEMPLATE, "golden", inputs);

    describe("policy prod-vmss-manual-upgrade", () => {
        const policy = "prod-vmss-manual-upgrade";

        it("accepts Manual upgrade mode in prod", async () => {
            assert.deepEqual(await check(policy, "prod", [vmss("prod", f.vmssInputs())]), []);
        });

        it("rejects Rolling in prod, naming the mode and the stack", async () => {
            assertMandatory(await check(policy, "prod", [vmss("prod", f.rollingVmssInputs())]), '"Rolling"', 'production stack "prod"');
        });

        it("treats prod-* stacks as production", async () => {
            const v = f.vmssInputs();
            v.upgradePolicy = { ...v.upgradePolicy, mode: "Automatic" };
            assertMandatory(await check(policy, "prod-westeurope", [vmss("prod-westeurope", v)]), '"Automatic"');
        });

        it("requires the mode to be set explicitly in prod", async () => {
            const v = f.vmssInputs();
            delete v.upgradePolicy;
            assertMandatory(await check(policy, "prod", [vmss("prod", v)]), "does not set upgradePolicy.mode");
        });

        it("rejects automatic OS upgrades in prod even in Manual mode", async () => {
            const v = f.vmssInputs();
            v.upgradePolicy = { ...v.upgradePolicy, automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: true } };
            assertMandatory(await check(policy, "prod", [vmss("prod", v)]), "enableAutomaticOSUpgrade");
        });

        it("reads the ring from the URN, not from tags", async () => {
            const v = f.rollingVmssInputs();
            v.tags = { Environment: "Production", Stack: "prod" };
            assert.deepEqual(await check(policy, "pilot", [vmss("pilot", v)]), []);
            assert.deepEqual(await check(policy, "production", [vmss("production", f.rollingVmssInputs())]), []);
        });

        it("follows productionStacks from the policy config", async () => {
            const config = { [policy]: { productionStacks: ["live", "live-*"] } };
            assertMandatory(await check(policy, "live-eu", [vmss("live-eu", f.rollingVmssInputs())], { config }));
            assert.deepEqual(await check(policy, "prod", [vmss("prod", f.rollingVmssInputs())], { config }), []);
        });

        it("is downgraded to advisory when the mode is unknown during preview", async () => {
            const v = f.vmssInputs();
            v.upgradePolicy = { ...v.upgradePolicy, mode: f.UNKNOWN as "Manual" };
            assertAdvisory(await check(policy, "prod", [vmss("prod", v)]), "can't run policy 'prod-vmss-manual-upgrade'", "during preview");
        });
    });

    describe("policy os-disk-size-cap", () => {
        const policy = "os-disk-size-cap";
        const withDisk = (size: number) => {
            const v = f.vmssInputs();
            v.virtualMachineProfile!.storageProfile!.osDisk = { createOption: "FromImage", diskSizeGB: size };
            return v;
        };

        it("accepts exactly 128 GB and rejects 129 GB on a scale set", async () => {
            assert.deepEqual(await check(policy, "pilot", [vmss("pilot", withDisk(128))]), []);
            assertMandatory(await check(policy, "pilot", [vmss("pilot", withDisk(129))]), "osDisk.diskSizeGB = 129 GB", "128 GB cap");
        });

        it("checks the image build VM's vmProfile.osDiskSizeGB", async () => {
            const t = f.templateInputs();
            assert.deepEqual(await check(policy, "test", [template("test", t)]), []);
            t.vmProfile = { ...t.vmProfile, osDiskSizeGB: 129 };
            assertMandatory(await check(policy, "test", [template("test", t)]), "vmProfile.osDiskSizeGB = 129 GB");
        });

        it("checks single VMs and leaves a size that is not set to the image", async () => {
            const vm = f.vmInputs();
            vm.storageProfile = { ...vm.storageProfile, osDisk: { createOption: "FromImage", diskSizeGB: 256 } };
            assertMandatory(await check(policy, "prod", [f.resource("prod", VM, "vm", vm)]), "storageProfile.osDisk.diskSizeGB = 256 GB");
            const unsized = f.vmInputs();
            unsized.storageProfile = { ...unsized.storageProfile, osDisk: { createOption: "FromImage" } };
            assert.deepEqual(await check(policy, "prod", [f.resource("prod", VM, "vm", unsized)]), []);
        });

        it("takes the cap from the policy config", async () => {
            const config = { [policy]: { maxOsDiskSizeGb: 256 } };
            assert.deepEqual(await check(policy, "pilot", [vmss("pilot", withDisk(256))], { config }), []);
            assertMandatory(await check(policy, "pilot", [vmss("pilot", withDisk(257))], { config }), "256 GB cap");
        });
    });

    describe("policy no-avd-agent-in-image", () => {
        const policy = "no-avd-agent-in-image";
        const withScript = (...lines: string[]) => f.templateInputs([f.powershell("sneaky", lines)]);

        it("accepts a template whose validator only checks that the agent is absent", async () => {
            assert.deepEqual(await check(policy, "test", [template("test", f.templateInputs())]), []);
        });

        it("rejects installing the agent MSI", async () => {
            const t = withScript("msiexec /i C:\\Temp\\Microsoft.RDInfra.RDAgent.Installer-x64-1.0.9742.msi /quiet");
            assertMandatory(await check(policy, "test", [template("test", t)]), "AVD agent installer", 'customize[5] "sneaky" (PowerShell) inline');
        });

        it("is not fooled by case", async () => {
            const t = withScript("INVOKE-WEBREQUEST -URI HTTPS://QUERY.PROD.CMS.RT.MICROSOFT.COM/CMS/API/AM/BINARY/RWRMXV -OUTFILE C:\\TEMP\\A.MSI");
            assertMandatory(await check(policy, "test", [template("test", t)]), "cms/api/am/binary/RWrmXv");
        });

        it("is not fooled by quoting and concatenation within a line", async () => {
            const t = withScript("Start-Process msiexec.exe -ArgumentList ('/i C:\\Temp\\' + \"RDAgent\" + 'BootLoader.msi /quiet') -Wait");
            assertMandatory(await check(policy, "test", [template("test", t)]), "boot loader (RDAgentBootLoader)");
        });

        it("catches a download link held in a variable and used later", async () => {
            const t = withScript(
                "$base = 'https://go.microsoft.com/fwlink/?linkid='",
                "$id = '2310011'",
                "Invoke-WebRequest -Uri ($base + $id) -OutFile \"$env:TEMP\\agent.msi\"",
            );
            assertMandatory(await check(policy, "test", [template("test", t)]), "linkid=2310011", "Invoke-WebRequest -Uri ($base + $id)");
        });

        it("catches an installer path in a variable that is run later without a verb", async () => {
            const t = withScript("$msi = 'C:\\Temp\\RDAgentBootLoader.msi'", "& $msi /quiet /norestart");
            assertMandatory(await check(policy, "test", [template("test", t)]), "& $msi /quiet");
        });

        it("rejects staging the registration package with a File customizer", async () => {
            const t = f.templateInputs([
                {
                    type: "File",
                    name: "stage",
                    sourceUri: "https://wvdportalstorageblob.blob.core.windows.net/galleryartifacts/Configuration_1.0.02790.438.zip",
                    destination: "C:\\Packages\\Configuration.zip",
                    sha256Checksum: f.SHA,
                },
            ]);
            const v = await check(policy, "test", [template("test", t)]);
            assert.equal(v.length, 2, JSON.stringify(v, null, 2));
            assert.ok(v.some((x) => x.message.includes("sourceUri") && x.message.includes("wvdportalstorageblob")));
            assert.ok(v.some((x) => x.message.includes("destination") && x.message.includes("Configuration.zip")));
        });

        it("rejects a script URI named after the agent and shell downloads", async () => {
            const t = f.templateInputs([
                { type: "PowerShell", name: "agent", scriptUri: "https://st.blob.core.windows.net/scripts/Install-RDAgent.ps1", sha256Checksum: f.SHA },
                { type: "Shell", name: "sh", inline: ["AGENT_URL=https://go.microsoft.com/fwlink/?linkid=2311028", 'curl -L -o /tmp/x "$AGENT_URL"'] },
            ]);
            const v = await check(policy, "test", [template("test", t)]);
            assert.ok(v.some((x) => x.message.includes("scriptUri") && x.message.includes("Install-RDAgent.ps1")), JSON.stringify(v, null, 2));
            assert.ok(v.some((x) => x.message.includes("linkid=2311028") && x.message.includes("(Shell)")), JSON.stringify(v, null, 2));
        });

        it("checks the validate section: an in-VM validator runs on the build VM too", async () => {
            const t = f.templateInputs();
            t.validate = { inVMValidations: [{ type: "PowerShell", name: "check", inline: ["& C:\\Temp\\RDAgent.msi /qn"] }] };
            assertMandatory(await check(policy, "test", [template("test", t)]), 'validate.inVMValidations[0] "check"');
        });

        it("checks restart commands and the distribute section", async () => {
            const t = f.templateInputs([{ type: "WindowsRestart", restartCommand: "msiexec /i C:\\Temp\\RDAgent.msi /qn & shutdown /r /t 0" }]);
            assertMandatory(await check(policy, "test", [template("test", t)]), "restart command");
            const d = f.templateInputs();
            d.distribute = [
                {
                    type: "SharedImage",
                    galleryImageId: f.PINNED_IMAGE,
                    runOutputName: "avd",
                    artifactTags: { bootstrap: "https://wvdportalstorageblob.blob.core.windows.net/galleryartifacts/Configuration.zip" },
                },
            ];
            assertMandatory(await check(policy, "test", [template("test", d)]), "distribute[0].artifactTags.bootstrap");
        });

        it("is downgraded to advisory when a script line is unknown during preview", async () => {
            const t = withScript("Write-Output 'start'", f.UNKNOWN);
            assertAdvisory(await check(policy, "test", [template("test", t)]), "can't run policy 'no-avd-agent-in-image'");
        });
    });

    describe("policy no-fslogix-in-image (advisory)", () => {
        const policy = "no-fslogix-in-image";

        it("warns when the build downloads or runs the FSLogix installer", async () => {
            const download = f.templateInputs([f.powershell("fslogix", ["Invoke-WebRequest -Uri https://aka.ms/fslogix_download -OutFile C:\\Temp\\fsl.zip"])]);
            assertAdvisory(await check(policy, "test", [template("test", download)]), "FSLogix download link");
            const run = f.templateInputs([f.powershell("fslogix", ["& C:\\Temp\\FSLogix\\x64\\Release\\FSLogixAppsSetup.exe /install /quiet /norestart"])]);
            assertAdvisory(await check(policy, "test", [template("test", run)]), "FSLogixAppsSetup.exe");
        });

        it("accepts configuring the FSLogix that ships with the image", async () => {
            const t = f.templateInputs([f.powershell("fslogix-config", ["New-ItemProperty -Path 'HKLM:\\SOFTWARE\\FSLogix\\Profiles' -Name Enabled -Value 1 -Force"])]);
            assert.deepEqual(await check(policy, "test", [template("test", t)]), []);
        });
    });

    describe("policy pinned-image-outside-test", () => {
        const policy = "pinned-image-outside-test";
        const withImage = (imageReference: object) => {
            const v = f.vmssInputs();
            v.virtualMachineProfile!.storageProfile!.imageReference = imageReference;
            return v;
        };
        const marketplace = { publisher: "MicrosoftWindowsDesktop", offer: "office-365", sku: "win11-24h2-avd-m365", version: "latest" };

        it("accepts a pinned X.Y.Z gallery version in prod and pilot", async () => {
            assert.deepEqual(await check(policy, "prod", [vmss("prod", f.vmssInputs())]), []);
            assert.deepEqual(await check(policy, "pilot", [vmss("pilot", f.vmssInputs())]), []);
        });

        it("rejects latest, marketplace and non-semver versions outside test", async () => {
            assertMandatory(await check(policy, "prod", [vmss("prod", withImage({ id: f.LATEST_IMAGE }))]), "floats on the latest");
            assertMandatory(await check(policy, "prod", [vmss("prod", withImage({ id: f.GALLERY_IMAGE }))]), "floats on the latest");
            assertMandatory(await check(policy, "pilot", [vmss("pilot", withImage(marketplace))]), "marketplace image MicrosoftWindowsDesktop:office-365");
            assertMandatory(await check(policy, "pilot", [vmss("pilot", withImage({ id: `${f.GALLERY_IMAGE}/versions/2026.01` }))]), '"2026.01"');
        });

        it("rejects a host without an image reference and checks single VMs", async () => {
            const v = f.vmssInputs();
            delete v.virtualMachineProfile!.storageProfile!.imageReference;
            assertMandatory(await check(policy, "pilot", [vmss("pilot", v)]), "no storageProfile.imageReference");
            const vm = f.vmInputs();
            vm.storageProfile = { ...vm.storageProfile, imageReference: { id: f.LATEST_IMAGE } };
            assertMandatory(await check(policy, "prod", [f.resource("prod", VM, "vm", vm)]), "floats on the latest");
        });

        it("lets test and test-* stacks float", async () => {
            assert.deepEqual(await check(policy, "test", [vmss("test", withImage({ id: f.LATEST_IMAGE }))]), []);
            assert.deepEqual(await check(policy, "test-feature", [vmss("test-feature", withImage(marketplace))]), []);
        });

        it("follows testStacks from the policy config", async () => {
            const config = { [policy]: { testStacks: ["sandbox"] } };
            assert.deepEqual(await check(policy, "sandbox", [vmss("sandbox", withImage({ id: f.LATEST_IMAGE }))], { config }), []);
            assertMandatory(await check(policy, "test", [vmss("test", withImage({ id: f.LATEST_IMAGE }))], { config }));
        });
    });

    describe("policy safe-rolling-upgrade", () => {
        const policy = "safe-rolling-upgrade";

        it("accepts the rings' own settings (pilot Rolling 34%, prod Manual 10%, test 50% PT2M)", async () => {
            assert.deepEqual(await check(policy, "pilot", [vmss("pilot", f.rollingVmssInputs())]), []);
            assert.deepEqual(await check(policy, "prod", [vmss("prod", f.vmssInputs())]), []);
            const test = f.rollingVmssInputs({
                maxBatchInstancePercent: 50,
                maxUnhealthyInstancePercent: 50,
                maxUnhealthyUpgradedInstancePercent: 50,
                pauseTimeBetweenBatches: "PT2M",
            });
            assert.deepEqual(await check(policy, "test", [vmss("test", test)]), []);
        });

        it("rejects batches above 50% outside production", async () => {
            assertMandatory(await check(policy, "pilot", [vmss("pilot", f.rollingVmssInputs({ maxBatchInstancePercent: 60 }))]), "maxBatchInstancePercent is 60%", "50% limit");
        });

        it("holds Manual production scale sets to the 20% / PT10M production limits", async () => {
            const v = f.vmssInputs();
            v.upgradePolicy!.rollingUpgradePolicy = { ...v.upgradePolicy!.rollingUpgradePolicy, maxUnhealthyInstancePercent: 25 };
            assertMandatory(await check(policy, "prod", [vmss("prod", v)]), "maxUnhealthyInstancePercent is 25%", "20% limit");
            const slow = f.vmssInputs();
            slow.upgradePolicy!.rollingUpgradePolicy = { ...slow.upgradePolicy!.rollingUpgradePolicy, pauseTimeBetweenBatches: "PT5M" };
            assertMandatory(await check(policy, "prod-eu", [vmss("prod-eu", slow)]), "PT5M", "minimum PT10M");
            const none = f.vmssInputs();
            none.upgradePolicy = { mode: "Manual" };
            assertMandatory(await check(policy, "prod", [vmss("prod", none)]), "has no upgradePolicy.rollingUpgradePolicy");
        });

        it("does not check Manual scale sets outside production", async () => {
            const v = f.vmssInputs();
            v.upgradePolicy = { mode: "Manual" };
            assert.deepEqual(await check(policy, "pilot", [vmss("pilot", v)]), []);
        });

        it("parses ISO 8601 pauses and counts missing fields as Azure's defaults", async () => {
            assertMandatory(await check(policy, "test", [vmss("test", f.rollingVmssInputs({ pauseTimeBetweenBatches: "PT1M59S" }))]), "minimum PT2M");
            assert.deepEqual(await check(policy, "test", [vmss("test", f.rollingVmssInputs({ pauseTimeBetweenBatches: "PT1H" }))]), []);
            assertMandatory(await check(policy, "test", [vmss("test", f.rollingVmssInputs({ pauseTimeBetweenBatches: "10 minutes" }))]), "not an ISO 8601 duration");
            const v = f.rollingVmssInputs();
            v.upgradePolicy!.rollingUpgradePolicy = { maxBatchInstancePercent: 20 };
            assertMandatory(await check(policy, "pilot", [vmss("pilot", v)]), "not set (Azure default PT0S)");
            const bare = f.rollingVmssInputs();
            bare.upgradePolicy = { mode: "Rolling" };
            assertMandatory(await check(policy, "pilot", [vmss("pilot", bare)]), "Rolling mode", "no upgradePolicy.rollingUpgradePolicy");
        });

        it("takes limits from the policy config", async () => {
            const config = { [policy]: { maxPercent: 30, minPauseTimeBetweenBatches: "PT15M" } };
            const v = await check(policy, "pilot", [vmss("pilot", f.rollingVmssInputs())], { config });
            assert.deepEqual(v.map((x) => /rollingUpgradePolicy\.(\w+)/.exec(x.message)?.[1]).sort(), ["maxBatchInstancePercent", "maxUnhealthyInstancePercent", "pauseTimeBetweenBatches"]);
        });
    });

    describe("policy rolling-upgrade-health-probe", () => {
        const policy = "rolling-upgrade-health-probe";
        const withoutExtensions = () => {
            const v = f.rollingVmssInputs();
            v.virtualMachineProfile!.extensionProfile = { extensions: [] };
            return v;
        };

        it("accepts the Application Health extension probing tcp 3389", async () => {
            assert.deepEqual(await check(policy, "pilot", [vmss("pilot", f.rollingVmssInputs())]), []);
        });

        it("rejects a Rolling scale set without a health signal", async () => {
            const v = await check(policy, "pilot", [vmss("pilot", withoutExtensions())]);
            assertMandatory(v, "without the Application Health extension");
            assert.equal(v[0].urn, "urn:pulumi:pilot::avd-image-rings::azure-native:compute:VirtualMachineScaleSet::vmss");
        });

        it("rejects the default HTTP :80 probe", async () => {
            const v = f.rollingVmssInputs();
            v.virtualMachineProfile!.extensionProfile = {
                extensions: [{ name: "health", publisher: "Microsoft.ManagedServices", type: "ApplicationHealthWindows", settings: { protocol: "http", requestPath: "/" } }],
            };
            assertMandatory(await check(policy, "pilot", [vmss("pilot", v)]), "port 80 (the default)");
        });

        it("finds a standalone extension resource of the scale set", async () => {
            const ext = (settings: Record<string, unknown>) => f.resource("pilot", "azure-native:compute:VirtualMachineScaleSetExtension", "health", f.healthExtensionInputs(settings));
            assert.deepEqual(await check(policy, "pilot", [vmss("pilot", withoutExtensions()), ext({ protocol: "https", port: 8443, requestPath: "/health" })]), []);
            assertMandatory(await check(policy, "pilot", [vmss("pilot", withoutExtensions()), ext({ protocol: "http", port: 80 })]), "port 80");
        });

        it("accepts a load balancer probe and ignores Manual scale sets", async () => {
            const v = withoutExtensions();
            v.virtualMachineProfile!.networkProfile = { ...v.virtualMachineProfile!.networkProfile, healthProbe: { id: `${f.SUB}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb/probes/rdp` } };
            assert.deepEqual(await check(policy, "pilot", [vmss("pilot", v)]), []);
            const manual = f.vmssInputs();
            manual.virtualMachineProfile!.extensionProfile = { extensions: [] };
            assert.deepEqual(await check(policy, "prod", [vmss("prod", manual)]), []);
        });
    });

    describe("policy script-supply-chain", () => {
        const policy = "script-supply-chain";
        const withScriptUri = (scriptUri: string, sha256Checksum?: string) =>
            f.templateInputs([{ type: "PowerShell", name: "extra", scriptUri, ...(sha256Checksum ? { sha256Checksum } : {}) }]);

        it("accepts https script URIs with a sha256 checksum", async () => {
            assert.deepEqual(await check(policy, "test", [template("test", f.templateInputs())]), []);
        });

        it("rejects plain http, a missing checksum and a malformed checksum", async () => {
            assertMandatory(await check(policy, "test", [template("test", withScriptUri("http://scripts.contoso.com/a.ps1", f.SHA))]), "is not https");
            assertMandatory(await check(policy, "test", [template("test", withScriptUri("https://scripts.contoso.com/a.ps1"))]), "has no sha256Checksum");
            assertMandatory(await check(policy, "test", [template("test", withScriptUri("https://scripts.contoso.com/a.ps1", "abc123"))]), "not 64 hex characters");
        });

        it("checks File customizers and in-VM validators too", async () => {
            const file = f.templateInputs([{ type: "File", name: "cfg", sourceUri: "https://st.blob.core.windows.net/cfg/app.json", destination: "C:\\cfg\\app.json" }]);
            assertMandatory(await check(policy, "test", [template("test", file)]), 'customize[5] "cfg" (File)', "sourceUri");
            const validator = f.templateInputs();
            validator.validate = { inVMValidations: [{ type: "PowerShell", name: "v", scriptUri: "https://st.blob.core.windows.net/v.ps1" }] };
            assertMandatory(await check(policy, "test", [template("test", validator)]), "validate.inVMValidations[0]");
        });
    });

    describe("policy chocolatey-versions-pinned (advisory)", () => {
        const policy = "chocolatey-versions-pinned";

        it("warns about packages installed without --version", async () => {
            const t = f.templateInputs([f.powershell("apps", ["choco install googlechrome 7zip -y --no-progress"])]);
            assertAdvisory(await check(policy, "test", [template("test", t)]), "googlechrome, 7zip without --version");
        });

        it("accepts pinned installs in either --version form, and ignores comments and messages", async () => {
            const t = f.templateInputs([
                f.powershell("apps", [
                    "# one `& $choco install ...` line per package",
                    "choco install vlc --version=3.0.20 -y",
                    "choco.exe install notepadplusplus --version 8.6.9 -y",
                    'if ($LASTEXITCODE -ne 0) { throw "choco install notepadplusplus failed" }',
                ]),
            ]);
            assert.deepEqual(await check(policy, "test", [template("test", t)]), []);
        });
    });

    describe("policy aib-identity-least-privilege", () => {
        const policy = "aib-identity-least-privilege";
        const principal = "5f0d4f9a-1b2c-4d3e-a4f5-6a7b8c9d0e1f";
        const identity = f.resource("test", UAI, "aib-identity", f.identityInputs(), {
            outputs: { ...f.identityInputs(), principalId: principal, id: `${f.SUB}/resourceGroups/${f.RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib` },
        });
        const golden = template("test", f.templateInputs());
        const assignment = (role: string, principalId = principal, extra = {}) => f.resource("test", ROLE_ASSIGNMENT, `aib-${role.slice(0, 4)}`, f.roleAssignmentInputs(principalId, role), extra);

        it("rejects Contributor, Owner and User Access Administrator for the template's identity", async () => {
            assertMandatory(await check(policy, "test", [identity, golden, assignment(f.ROLE.contributor)]), "Contributor", '"aib-identity"');
            assertMandatory(await check(policy, "test", [identity, golden, assignment(f.ROLE.owner)]), "Owner");
            const v = await check(policy, "test", [identity, golden, assignment(f.ROLE.userAccessAdministrator)]);
            assertMandatory(v, "User Access Administrator");
            assert.equal(v[0].urn, "urn:pulumi:test::avd-image-rings::azure-native:authorization:RoleAssignment::aib-18d7");
        });

        it("accepts narrow roles, and broad roles for other principals", async () => {
            assert.deepEqual(await check(policy, "test", [identity, golden, assignment(f.ROLE.reader)]), []);
            assert.deepEqual(await check(policy, "test", [identity, golden, assignment(f.ROLE.owner, "0b1c2d3e-0000-4000-a000-000000000001")]), []);
        });

        it("links through property dependencies when the principal id is unknown during preview", async () => {
            const unknownIdentity = f.resource("test", UAI, "aib-identity", f.identityInputs());
            const ra = assignment(f.ROLE.contributor, f.UNKNOWN, { propertyDependencies: { principalId: [unknownIdentity.urn] } });
            const t = f.templateInputs();
            t.identity = { type: "UserAssigned", userAssignedIdentities: [f.UNKNOWN] };
            const tpl = f.resource("test", TEMPLATE, "golden", t, { propertyDependencies: { identity: [unknownIdentity.urn] } });
            assertMandatory(await check(policy, "test", [unknownIdentity, tpl, ra]), "Contributor");
        });

        it("rejects a custom role with '*' or Microsoft.Authorization/*/write actions", async () => {
            const guid = "1a2b3c4d-0000-4000-a000-00000000aaaa";
            const role = (actions: string[]) => f.resource("test", ROLE_DEFINITION, "aib-role", f.roleDefinitionInputs(guid, actions));
            assertMandatory(await check(policy, "test", [identity, golden, role(["*"]), assignment(guid)]), 'custom role "aib-role"', '"*"');
            assertMandatory(
                await check(policy, "test", [identity, golden, role(["Microsoft.Compute/galleries/read", "Microsoft.Authorization/*/write"]), assignment(guid)]),
                "Microsoft.Authorization/*/write",
            );
            const narrow = role(["Microsoft.Compute/galleries/read", "Microsoft.Compute/galleries/images/versions/write", "Microsoft.Compute/images/*"]);
            assert.deepEqual(await check(policy, "test", [identity, golden, narrow, assignment(guid)]), []);
        });

        it("takes extra forbidden roles from the policy config", async () => {
            const config = { [policy]: { forbiddenRoleDefinitionIds: [f.ROLE.reader] } };
            assertMandatory(await check(policy, "test", [identity, golden, assignment(f.ROLE.reader)], { config }), "role acdd72a7");
        });
    });

    describe("policy no-public-ip-on-session-hosts", () => {
        const policy = "no-public-ip-on-session-hosts";

        it("accepts hosts without public IPs", async () => {
            assert.deepEqual(await check(policy, "prod", [vmss("prod", f.vmssInputs()), f.resource("prod", VM, "vm", f.vmInputs())]), []);
        });

        it("rejects a public IP configuration on a scale set or a VM", async () => {
            const v = f.vmssInputs();
            v.virtualMachineProfile!.networkProfile!.networkInterfaceConfigurations![0].ipConfigurations[0].publicIPAddressConfiguration = { name: "pip" };
            assertMandatory(await check(policy, "prod", [vmss("prod", v)]), "nic/ipconfig");
            const vm = f.vmInputs();
            vm.networkProfile = { networkInterfaceConfigurations: [{ name: "nic", ipConfigurations: [{ name: "ip", publicIPAddressConfiguration: { name: "pip" } }] }] };
            assertMandatory(await check(policy, "prod", [f.resource("prod", VM, "vm", vm)]), "nic/ip");
        });
    });

    describe("policy trusted-launch (advisory)", () => {
        const policy = "trusted-launch";

        it("accepts Trusted Launch with Secure Boot and vTPM", async () => {
            assert.deepEqual(await check(policy, "prod", [vmss("prod", f.vmssInputs())]), []);
        });

        it("warns about standard security or a missing vTPM", async () => {
            const standard = f.vmssInputs();
            standard.virtualMachineProfile!.securityProfile = { securityType: "Standard" };
            assertAdvisory(await check(policy, "prod", [vmss("prod", standard)]), '"Standard"');
            const noTpm = f.vmssInputs();
            noTpm.virtualMachineProfile!.securityProfile = { securityType: "TrustedLaunch", uefiSettings: { secureBootEnabled: true } };
            assertAdvisory(await check(policy, "prod", [vmss("prod", noTpm)]), "uefiSettings.vTpmEnabled");
        });
    });

    describe("policy gallery-replicas-for-scale-out (advisory)", () => {
        const policy = "gallery-replicas-for-scale-out";
        const big = (capacity: number, percent: number) => {
            const v = f.rollingVmssInputs({ maxBatchInstancePercent: percent });
            v.sku = { ...v.sku, capacity };
            return v;
        };

        it("accepts enough replicas for the largest batch", async () => {
            assert.deepEqual(await check(policy, "test", [template("test", f.templateInputs()), vmss("test", big(200, 20))]), []);
        });

        it("warns when replicas x 20 is below capacity x maxBatchInstancePercent", async () => {
            const v = await check(policy, "test", [template("test", f.templateInputs()), vmss("test", big(500, 20))]);
            assertAdvisory(v, "2 replica(s) in westeurope", "deploys 100 hosts per batch", "use at least 5");
            assert.ok(v[0].urn.endsWith("VirtualMachineImageTemplate::golden"));
        });

        it("counts GalleryImageVersion replicas and follows the config", async () => {
            const version = f.resource("pilot", "azure-native:compute:GalleryImageVersion", "v120", f.galleryImageVersionInputs(1));
            assertAdvisory(await check(policy, "pilot", [version, vmss("pilot", big(100, 50))]), "1 replica(s)");
            const config = { [policy]: { deploymentsPerReplica: 60 } };
            assert.deepEqual(await check(policy, "pilot", [version, vmss("pilot", big(100, 50))], { config }), []);
        });
    });

    describe("policy aib-build-timeout (advisory)", () => {
        const policy = "aib-build-timeout";
        const withTimeout = (minutes: number | undefined) => {
            const t = f.templateInputs();
            t.buildTimeoutInMinutes = minutes;
            return t;
        };

        it("accepts a timeout within bounds and Image Builder's default", async () => {
            assert.deepEqual(await check(policy, "test", [template("test", withTimeout(300))]), []);
            assert.deepEqual(await check(policy, "test", [template("test", withTimeout(undefined))]), []);
        });

        it("warns about too short and too long timeouts", async () => {
            assertAdvisory(await check(policy, "test", [template("test", withTimeout(30))]), "30 minutes, below 60");
            assertAdvisory(await check(policy, "test", [template("test", withTimeout(900))]), "900 minutes, above 480");
            const config = { [policy]: { maxMinutes: 200 } };
            assertAdvisory(await check(policy, "test", [template("test", withTimeout(0))], { config }), "240 minutes (Image Builder's default), above 200");
        });
    });

    describe("policy exclude-from-latest-when-floating (advisory)", () => {
        const policy = "exclude-from-latest-when-floating";
        const floating = () => {
            const v = f.rollingVmssInputs();
            v.virtualMachineProfile!.storageProfile!.imageReference = { id: f.LATEST_IMAGE };
            return v;
        };

        it("warns when a build publishes to latest while hosts in the stack follow latest", async () => {
            assertAdvisory(await check(policy, "test", [template("test", f.templateInputs()), vmss("test", floating())]), "without excludeFromLatest", '"vmss"');
        });

        it("accepts excluded builds and pinned hosts", async () => {
            const excluded = f.templateInputs();
            excluded.distribute = [{ type: "SharedImage", galleryImageId: f.PINNED_IMAGE, runOutputName: "avd", excludeFromLatest: true }];
            assert.deepEqual(await check(policy, "test", [template("test", excluded), vmss("test", floating())]), []);
            assert.deepEqual(await check(policy, "test", [template("test", f.templateInputs()), vmss("test", f.rollingVmssInputs())]), []);
        });
    });

    describe("ring configuration files (policy/config)", () => {
        it("are valid for the pack", async () => {
            for (const file of fs.readdirSync(POLICY_CONFIG_DIR).filter((n) => n.endsWith(".json"))) {
                const stack = path.basename(file, ".json");
                await pack.analyze([f.stackResource(stack)], { stack, config: path.join(POLICY_CONFIG_DIR, file) });
            }
        });

        it("apply by default: the pilot ring pauses at least PT5M between batches", async () => {
            const resources = [f.stackResource("pilot"), vmss("pilot", f.rollingVmssInputs({ pauseTimeBetweenBatches: "PT3M" }))];
            const byRing = (await pack.analyze(resources)).filter((v) => v.policy === "safe-rolling-upgrade");
            assertMandatory(byRing, "minimum PT5M");
            assert.deepEqual((await pack.analyze(resources, { config: null })).filter((v) => v.policy === "safe-rolling-upgrade"), []);
        });

        it("apply by default: prod makes exclude-from-latest-when-floating mandatory", async () => {
            const floating = f.vmssInputs();
            floating.virtualMachineProfile!.storageProfile!.imageReference = { id: f.LATEST_IMAGE };
            const resources = [f.stackResource("prod-eu"), template("prod-eu", f.templateInputs()), vmss("prod-eu", floating)];
            assertMandatory((await pack.analyze(resources)).filter((v) => v.policy === "exclude-from-latest-when-floating"));
        });
    });
});
