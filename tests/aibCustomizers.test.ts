import { strict as assert } from "node:assert";
import type { CustomizationsConfig } from "../src/config/types";
import {
    buildCustomizers,
    chocolateyInstallLine,
    chocolateyScript,
    powershellModulesScript,
    STEP_NAMES,
    VDOT_REPOSITORY,
    type Customizer,
    type PowerShellCustomizer,
} from "../src/aib/customizers";
import { buildValidation, VALIDATOR_NAMES } from "../src/aib/validators";
import { MAX_IMAGE_OS_DISK_GB } from "../src/aib/guardrails";
import { psQuote } from "../src/aib/powershell";

const NOTHING: CustomizationsConfig = {
    windowsUpdate: { enabled: false, searchCriteria: "IsInstalled=0", filters: [], updateLimit: 1000 },
    powershellModules: [],
    inlineScripts: [],
    scriptUris: [],
    chocolateyPackages: [],
    restartAfterCustomization: false,
    runOptimization: false,
    runCleanup: false,
};

const EVERYTHING: CustomizationsConfig = {
    windowsUpdate: { enabled: true, searchCriteria: "IsInstalled=0", filters: ["exclude:$_.Title -like '*Preview*'", "include:$true"], updateLimit: 500 },
    powershellModules: ["Az.Accounts", "Pester"],
    inlineScripts: [
        { name: "zeta-first", lines: ["Set-TimeZone -Id 'UTC'"] },
        { name: "alpha-second", lines: ["New-Item -Path 'HKLM:\\SOFTWARE\\Contoso' -Force | Out-Null", "Write-Output done"] },
    ],
    scriptUris: [{ name: "harden-os", uri: "https://example.blob.core.windows.net/s/Harden.ps1", sha256: "ab".repeat(32) }],
    chocolateyPackages: [{ name: "googlechrome", version: "131.0.6778.140" }, { name: "7zip" }],
    restartAfterCustomization: true,
    runOptimization: true,
    runCleanup: true,
};

const names = (steps: Customizer[]) => steps.map((s) => s.name);
const step = (steps: Customizer[], name: string) => {
    const found = steps.find((s) => s.name === name);
    assert.ok(found, `no customizer named ${name} in [${names(steps).join(", ")}]`);
    return found;
};
const inline = (s: Customizer): string[] => {
    assert.equal(s.type, "PowerShell");
    return (s as PowerShellCustomizer).inline ?? [];
};

describe("AIB customizers", () => {
    it("runs every step in the seed's build order", () => {
        assert.deepEqual(names(buildCustomizers(EVERYTHING)), [
            STEP_NAMES.windowsUpdate,
            STEP_NAMES.powershellModules,
            "zeta-first",
            "alpha-second",
            "harden-os",
            STEP_NAMES.chocolatey,
            STEP_NAMES.restart,
            STEP_NAMES.optimization,
            STEP_NAMES.cleanup,
            STEP_NAMES.inventory,
        ]);
    });

    it("adds only the inventory step when every option is off and every list is empty", () => {
        assert.deepEqual(names(buildCustomizers(NOTHING)), [STEP_NAMES.inventory]);
    });

    const toggles: Array<[string, Partial<CustomizationsConfig>]> = [
        [STEP_NAMES.windowsUpdate, { windowsUpdate: { ...NOTHING.windowsUpdate, enabled: true } }],
        [STEP_NAMES.powershellModules, { powershellModules: ["Az.Accounts"] }],
        [STEP_NAMES.chocolatey, { chocolateyPackages: [{ name: "7zip" }] }],
        [STEP_NAMES.restart, { restartAfterCustomization: true }],
        [STEP_NAMES.optimization, { runOptimization: true }],
        [STEP_NAMES.cleanup, { runCleanup: true }],
    ];
    for (const [name, option] of toggles) {
        it(`adds ${name} exactly when its option is on`, () => {
            assert.deepEqual(names(buildCustomizers({ ...NOTHING, ...option })), [name, STEP_NAMES.inventory]);
            assert.ok(!names(buildCustomizers(NOTHING)).includes(name));
        });
    }

    it("passes Windows Update search criteria, filters and limit through", () => {
        assert.deepEqual(step(buildCustomizers(EVERYTHING), STEP_NAMES.windowsUpdate), {
            type: "WindowsUpdate",
            name: STEP_NAMES.windowsUpdate,
            searchCriteria: "IsInstalled=0",
            filters: ["exclude:$_.Title -like '*Preview*'", "include:$true"],
            updateLimit: 500,
        });
    });

    it("runs every PowerShell step elevated as SYSTEM, with a name", () => {
        const ps = buildCustomizers(EVERYTHING).filter((s): s is PowerShellCustomizer => s.type === "PowerShell");
        assert.equal(ps.length, 8);
        for (const s of ps) {
            assert.equal(s.runElevated, true, s.name);
            assert.equal(s.runAsSystem, true, s.name);
            assert.match(s.name, /\S/);
        }
    });

    it("keeps each inline script's lines unchanged, one customizer per map entry", () => {
        const steps = buildCustomizers(EVERYTHING);
        assert.deepEqual(inline(step(steps, "zeta-first")), ["Set-TimeZone -Id 'UTC'"]);
        assert.deepEqual(inline(step(steps, "alpha-second")), EVERYTHING.inlineScripts[1].lines);
    });

    it("runs script URIs by URL with their SHA-256 checksum", () => {
        const s = step(buildCustomizers(EVERYTHING), "harden-os");
        assert.deepEqual(s, {
            type: "PowerShell",
            name: "harden-os",
            scriptUri: "https://example.blob.core.windows.net/s/Harden.ps1",
            sha256Checksum: "ab".repeat(32),
            runElevated: true,
            runAsSystem: true,
        });
    });

    it("installs PowerShell modules with the NuGet provider and a trusted PSGallery, skipping installed ones", () => {
        const script = powershellModulesScript(["Az.Accounts", "Pester"]);
        const text = script.join("\n");
        assert.equal(script[script.length - 1], "Install-GalleryModules -Name @('Az.Accounts', 'Pester')");
        assert.match(text, /Install-PackageProvider -Name NuGet/);
        assert.match(text, /Set-PSRepository -Name PSGallery -InstallationPolicy Trusted/);
        assert.match(text, /if \(Get-Module -ListAvailable -Name \$module\)/);
        assert.match(text, /Install-Module -Name \$module -Repository PSGallery -Scope AllUsers/);
    });

    describe("Chocolatey", () => {
        it("pins a version when one is configured", () => {
            assert.equal(
                chocolateyInstallLine({ name: "googlechrome", version: "131.0.6778.140" }),
                "& $choco install 'googlechrome' --version '131.0.6778.140' -y --no-progress",
            );
        });

        it("installs the latest version when none is configured", () => {
            assert.equal(chocolateyInstallLine({ name: "7zip" }), "& $choco install '7zip' -y --no-progress");
        });

        it("installs Chocolatey only when it is missing, then every package in order with an exit-code check", () => {
            const script = chocolateyScript([{ name: "googlechrome", version: "131.0.6778.140" }, { name: "7zip" }]);
            const text = script.join("\n");
            assert.match(text, /if \(-not \(Test-Path -Path \$choco\)\)/);
            assert.match(text, /community\.chocolatey\.org\/install\.ps1/);
            const installs = script.filter((l) => l.startsWith("& $choco install"));
            assert.deepEqual(installs, [
                "& $choco install 'googlechrome' --version '131.0.6778.140' -y --no-progress",
                "& $choco install '7zip' -y --no-progress",
            ]);
            const chrome = script.indexOf(installs[0]);
            assert.equal(script[chrome + 1], "Assert-ChocoSucceeded -Package 'googlechrome' -ExitCode $LASTEXITCODE");
            assert.ok(script.indexOf(installs[1]) > chrome);
        });

        it("accepts exit codes 0, 1641 and 3010 only, and ends successful when every package passed", () => {
            const script = chocolateyScript([{ name: "7zip" }]);
            assert.equal(script[0], "$chocoSuccessExitCodes = @(0, 1641, 3010)");
            assert.match(script.join("\n"), /if \(\$chocoSuccessExitCodes -notcontains \$ExitCode\) \{\s*throw/);
            assert.equal(script[script.length - 1], "exit 0");
        });
    });

    it("downloads the Virtual Desktop Optimization Tool from its GitHub repository and runs all optimisations", () => {
        const text = inline(step(buildCustomizers(EVERYTHING), STEP_NAMES.optimization)).join("\n");
        assert.ok(text.includes(`$VdotArchiveUri = '${VDOT_REPOSITORY}/`), text.slice(0, 200));
        assert.equal(VDOT_REPOSITORY, "https://github.com/The-Virtual-Desktop-Team/Virtual-Desktop-Optimization-Tool");
        assert.match(text, /Windows_VDOT\.ps1/);
        assert.match(text, /-Optimizations All -AcceptEULA/);
    });

    it("cleans temp folders, the Windows Update cache, event logs and user temp folders", () => {
        const text = inline(step(buildCustomizers(EVERYTHING), STEP_NAMES.cleanup)).join("\n");
        assert.match(text, /Clear-Folder -Path \(Join-Path \$env:SystemDrive 'Temp'\)/);
        assert.match(text, /Clear-Folder -Path \(Join-Path \$env:SystemRoot 'Temp'\) -Keep \$builderFiles/);
        assert.match(text, /SoftwareDistribution\\Download/);
        assert.match(text, /wevtutil\.exe clear-log/);
        assert.match(text, /AppData\\Local\\Temp/);
    });

    it("restarts with a check command and a timeout when asked", () => {
        const restart = step(buildCustomizers({ ...NOTHING, restartAfterCustomization: true }), STEP_NAMES.restart);
        assert.equal(restart.type, "WindowsRestart");
        assert.match(JSON.stringify(restart), /"restartTimeout":"\d+m"/);
    });

    it("generates plain ASCII, which Windows PowerShell reads the same in any code page", () => {
        const generated = [...buildCustomizers(EVERYTHING), ...buildValidation("Standard_NV12ads_A10_v5").inVMValidations]
            .filter((s) => s.type === "PowerShell" && !EVERYTHING.inlineScripts.some((i) => i.name === s.name))
            .flatMap((s) => inline(s));
        assert.ok(generated.length > 100);
        for (const line of generated) assert.match(line, /^[\x20-\x7E\t]*$/, line);
    });

    it("quotes values so PowerShell never expands or ends them", () => {
        assert.equal(psQuote("it's $env:PATH"), "'it''s $env:PATH'");
        assert.equal(psQuote("a\u2019b"), "'a\u2019\u2019b'");
    });
});

describe("AIB in-VM validation", () => {
    const validate = buildValidation("Standard_D8s_v5");
    const script = (name: string) => {
        const v = validate.inVMValidations.find((x) => x.name === name);
        assert.ok(v, `no validator ${name}`);
        return v.inline.join("\n");
    };

    it("never distributes an image that failed validation", () => {
        assert.equal(validate.continueDistributeOnFailure, false);
        assert.equal(validate.sourceValidationOnly, false);
    });

    it("runs its PowerShell validators elevated as SYSTEM", () => {
        assert.deepEqual(validate.inVMValidations.map((v) => v.name), [VALIDATOR_NAMES.noAvdAgent, VALIDATOR_NAMES.osDiskSize]);
        for (const v of validate.inVMValidations) {
            assert.equal(v.type, "PowerShell");
            assert.equal(v.runElevated, true);
            assert.equal(v.runAsSystem, true);
        }
    });

    it("fails when the AVD agent, its boot loader, their registry keys or installers are present", () => {
        const text = script(VALIDATOR_NAMES.noAvdAgent);
        assert.match(text, /^\$AvdAgentServices = @\('RDAgent', 'RDAgentBootLoader'\)$/m);
        assert.match(text, /'HKLM:\\SOFTWARE\\Microsoft\\RDInfraAgent'/);
        assert.match(text, /Microsoft\.RDInfra\.RDAgentBootLoader\*\.msi/);
        assert.match(text, /if \(\$findings\.Count -gt 0\) \{[\s\S]*exit 1/);
    });

    it("checks the GPU driver only on images built on a GPU size, for that size's vendor", () => {
        const names = (size: string) => buildValidation(size).inVMValidations.map((v) => v.name);
        assert.deepEqual(names("Standard_NV6ads_A10_v5"), [VALIDATOR_NAMES.noAvdAgent, VALIDATOR_NAMES.osDiskSize, VALIDATOR_NAMES.gpuDriver]);
        const gpuScript = (size: string) => buildValidation(size).inVMValidations.find((v) => v.name === VALIDATOR_NAMES.gpuDriver)?.inline.join("\n") ?? "";
        assert.match(gpuScript("Standard_NV6ads_A10_v5"), /^\$GpuVendor = 'nvidia'$/m);
        assert.match(gpuScript("Standard_NV8ads_V710_v5"), /^\$GpuVendor = 'amd'$/m);
        const text = gpuScript("Standard_NC8as_T4_v3");
        assert.match(text, /Win32_VideoController/);
        assert.match(text, /\$_\.Status -eq 'OK' -and \$_\.ConfigManagerErrorCode -eq 0/);
        assert.match(text, /WaitForExit\(60000\)/, "a hung nvidia-smi cannot hang the build");
        assert.equal((text.match(/exit 1/g) ?? []).length, 5, "each failed check fails the build");
    });

    it(`fails when the OS disk is larger than ${MAX_IMAGE_OS_DISK_GB} GB`, () => {
        const text = script(VALIDATOR_NAMES.osDiskSize);
        assert.match(text, new RegExp(`^\\$MaxOsDiskSizeGb = ${MAX_IMAGE_OS_DISK_GB}$`, "m"));
        assert.match(text, /^\$bytesPerGb = 1GB$/m);
        assert.match(text, /if \(\$disk\.Size -gt \(\$MaxOsDiskSizeGb \* \$bytesPerGb\)\) \{[\s\S]*exit 1/);
    });
});
