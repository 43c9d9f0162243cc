// The pack's building blocks, called directly: the script scanner behind no-avd-agent-in-image /
// no-fslogix-in-image, the Chocolatey command parser, ISO 8601 durations and stack patterns.
import assert from "node:assert/strict";
import { parseDurationSeconds } from "../policy/lib/duration";
import { AVD_AGENT_RULES, FSLOGIX_RULES, scanScript, scanValue } from "../policy/lib/scriptScan";
import { globMatch, stackFromUrn } from "../policy/lib/stacks";
import { unpinnedChocolateyPackages } from "../policy/policies/chocolateyVersionsPinned";

const agent = (...lines: string[]) => scanScript(lines, AVD_AGENT_RULES);

describe("policy script scanner: AVD agent", () => {
    it("finds each documented indicator", () => {
        const cases = [
            "Invoke-WebRequest https://go.microsoft.com/fwlink/?linkid=2310011 -OutFile a.msi",
            "Invoke-WebRequest https://go.microsoft.com/fwlink/?LinkID=2311028&clcid=0x409 -OutFile b.msi",
            "msiexec /i Microsoft.RDInfra.RDAgentBootLoader.Installer-x64.msi /quiet",
            "Start-BitsTransfer -Source https://wvdportalstorageblob.blob.core.windows.net/galleryartifacts/Configuration_1.0.zip",
            "New-Item -Path HKLM:\\SOFTWARE\\Microsoft\\RDInfraAgent -Force",
            "Set-ItemProperty -Path HKLM:\\SOFTWARE\\Microsoft\\RDInfraAgent -Name RegistrationToken -Value $token",
            "Copy-Item \\\\fileserver\\share\\Remote Desktop Services Infrastructure Agent.msi C:\\Temp",
        ];
        for (const line of cases) assert.equal(agent(line).length, 1, line);
    });

    it("joins concatenated literals and expands variables, including ${braced} and shell forms", () => {
        assert.equal(agent("$n = 'RD' + \"Agent\"", "Start-Process msiexec -ArgumentList \"/i C:\\Temp\\$n.msi\"").length, 1);
        assert.equal(agent("$svc = 'Remote Desktop ' + 'Services Infrastructure Agent'", "Install-Package -Name ${svc} -Force").length, 1);
        assert.equal(agent("R`DAgent.msi /quiet").length, 1, "PowerShell escape backticks");
        assert.equal(agent("export U=https://st.blob.core.windows.net/agents/RDInfraAgent/download").length, 1);
    });

    it("leaves read-only checks, comments and removals alone", () => {
        assert.deepEqual(
            agent(
                "# RDAgent is installed when the host registers",
                "$services = @('RDAgent', 'RDAgentBootLoader')",
                "foreach ($s in $services) { if (Get-Service $s -ErrorAction SilentlyContinue) { throw \"$s found\" } }",
                "if (Test-Path 'HKLM:\\SOFTWARE\\Microsoft\\RDInfraAgent') { exit 1 }",
                "Get-Package -Name 'Remote Desktop Agent Boot Loader*' | Uninstall-Package",
                "Write-Output 'RDAgent not present'",
            ),
            [],
        );
    });

    it("still reports an install hidden behind a read-only verb on the same statement", () => {
        assert.equal(agent("if (-not (Get-Service RDAgent -EA 0)) { msiexec /i C:\\Temp\\RDAgent.msi /qn }").length, 1);
    });

    it("reports a line once however many statements match", () => {
        const f = agent("$u = 'https://go.microsoft.com/fwlink/?linkid=2310011'; Invoke-WebRequest $u -OutFile x.msi");
        assert.equal(f.length, 1);
        assert.match(f[0].indicator, /linkid=2310011/);
    });

    it("reads through format strings, percent-encoding, here-strings and PowerShell's typographic quotes", () => {
        assert.equal(agent("Invoke-WebRequest ('https://go.microsoft.com/fwlink/?linkid={0}' \u2013f '2311028') -OutFile b.msi").length, 1, "-f written with an en dash");
        assert.equal(agent("$u = \u201Chttps://go.microsoft.com/fwlink/?\u201D + \u2018linkid=2310011\u2019").length, 1);
        assert.equal(agent("iwr https://go.microsoft.com/fwlink/?linkid%3d2310011").length, 1);
        assert.equal(scanValue("https://go.microsoft.com/fwlink/%3flinkid%3D2310011", AVD_AGENT_RULES).length, 1);
        const f = agent("$msi = @\"", "C:\\Temp\\RDAgentBootLoader.msi", "\"@", "& $msi /quiet");
        assert.equal(f.length, 1);
        assert.equal(f[0].text, "& $msi /quiet", "the here-string only stores the path; running it is the finding");
    });

    it("splits statements and finds comments only outside quotes", () => {
        assert.deepEqual(agent("Write-Output 'RDAgent; not installed # by design'"), []);
        assert.deepEqual(agent("Write-Output \"The agent`\"s installer; RDAgent.msi comes at registration\""), []);
        assert.equal(agent("Get-Service RDAgent; msiexec /i C:\\Temp\\RDAgent.msi /qn").length, 1);
    });

    it("scans URIs and paths as a whole", () => {
        assert.equal(scanValue("https://st.blob.core.windows.net/agents/RDAgentBootLoader.msi", AVD_AGENT_RULES).length, 1);
        assert.deepEqual(scanValue("https://st.blob.core.windows.net/scripts/Harden-Windows.ps1", AVD_AGENT_RULES), []);
    });
});

describe("policy script scanner: FSLogix", () => {
    it("finds installs but not configuration", () => {
        assert.equal(scanScript(["choco install fslogix -y"], FSLOGIX_RULES).length, 1);
        assert.equal(scanScript(["$zip = 'https://download.microsoft.com/FSLogix_Apps_2.9.8884.27471.zip'"], FSLOGIX_RULES).length, 1);
        assert.deepEqual(scanScript(["Set-ItemProperty -Path HKLM:\\SOFTWARE\\FSLogix\\Profiles -Name VHDLocations -Value '\\\\files\\profiles'"], FSLOGIX_RULES), []);
    });
});

describe("policy chocolatey command parser", () => {
    it("lists packages installed without --version, skipping option values", () => {
        assert.deepEqual(unpinnedChocolateyPackages("choco install googlechrome 7zip -y --source https://feed.contoso.com/choco"), ["googlechrome", "7zip"]);
        assert.deepEqual(unpinnedChocolateyPackages("& $choco install 'adobereader' --params '/NoUpdates' -y"), ["adobereader"]);
        assert.deepEqual(unpinnedChocolateyPackages("cinst vlc"), ["vlc"]);
    });

    it("finds commands run by path or variable, not mentions inside strings", () => {
        assert.deepEqual(unpinnedChocolateyPackages('& "C:\\ProgramData\\chocolatey\\bin\\choco.exe" upgrade 7zip -y'), ["7zip"]);
        assert.deepEqual(unpinnedChocolateyPackages('throw "choco install $Package failed with exit code $ExitCode"'), []);
        assert.deepEqual(unpinnedChocolateyPackages('Write-Output "choco install $Package succeeded"'), []);
    });

    it("accepts pinned installs and ignores other commands", () => {
        assert.deepEqual(unpinnedChocolateyPackages("choco upgrade vlc --version=3.0.20 -y"), []);
        assert.deepEqual(unpinnedChocolateyPackages("choco install 'googlechrome' --version '131.0.6778.140' -y"), []);
        assert.deepEqual(unpinnedChocolateyPackages("choco feature enable -n allowGlobalConfirmation"), []);
    });
});

describe("policy helpers", () => {
    it("parse ISO 8601 durations", () => {
        assert.equal(parseDurationSeconds("PT10M"), 600);
        assert.equal(parseDurationSeconds("PT1H30M15S"), 5415);
        assert.equal(parseDurationSeconds("P1DT2H"), 93600);
        assert.equal(parseDurationSeconds("PT0S"), 0);
        assert.equal(parseDurationSeconds("10M"), undefined);
        assert.equal(parseDurationSeconds("PT"), undefined);
        assert.equal(parseDurationSeconds("P"), undefined);
    });

    it("read the stack from a URN and match stack patterns", () => {
        assert.equal(stackFromUrn("urn:pulumi:prod-eu::avd-image-rings::azure-native:compute:VirtualMachineScaleSet::vmss"), "prod-eu");
        assert.ok(globMatch("prod-*", "prod-eu"));
        assert.ok(!globMatch("prod-*", "prod"));
        assert.ok(!globMatch("prod", "preprod"));
        assert.ok(globMatch("ring?", "ring1"));
        assert.ok(!globMatch("a.b", "axb"), "dots are literal");
    });
});
