// no-avd-agent-in-image against every download location Microsoft documents for the AVD agent and
// its boot loader, spelled the ways PowerShell scripts spell them, through the real policy pack
// process: each must be a mandatory violation; look-alikes that install something else must pass.
import assert from "node:assert/strict";
import { startPolicyPack, type PolicyPackHandle, type PolicyViolation } from "../preview/policyRunner";
import * as f from "./fixtures/policy/resources";

const TEMPLATE = "azure-native:virtualmachineimages:VirtualMachineImageTemplate";
const POLICY = "no-avd-agent-in-image";

const AGENT_LINK = "https://go.microsoft.com/fwlink/?linkid=2310011";
const BOOT_LOADER_LINK = "https://go.microsoft.com/fwlink/?linkid=2311028";
const AGENT_BINARY = "https://query.prod.cms.rt.microsoft.com/cms/api/am/binary/RWrmXv";
const BOOT_LOADER_BINARY = "https://query.prod.cms.rt.microsoft.com/cms/api/am/binary/RWrxrH";

type Customizer = Parameters<typeof f.templateInputs>[0] extends (infer C)[] | undefined ? C : never;

/** Each case: a customizer that fetches the agent or boot loader, and what the message must name. */
const SPELLINGS: Array<{ title: string; step: Customizer; names: string }> = [
    { title: "the agent link", step: f.powershell("s", [`Invoke-WebRequest -Uri '${AGENT_LINK}' -OutFile C:\\Temp\\a.msi`]), names: "linkid=2310011" },
    { title: "the boot loader link", step: f.powershell("s", [`Invoke-WebRequest "${BOOT_LOADER_LINK}" -OutFile C:\\Temp\\b.msi`]), names: "linkid=2311028" },
    { title: "the agent's direct binary", step: f.powershell("s", [`Start-BitsTransfer -Source ${AGENT_BINARY} -Destination C:\\Temp\\a.msi`]), names: "RWrmXv" },
    { title: "the boot loader's direct binary", step: f.powershell("s", [`(New-Object Net.WebClient).DownloadFile('${BOOT_LOADER_BINARY}', 'C:\\Temp\\b.msi')`]), names: "RWrxrH" },
    {
        title: "a link in a variable used later",
        step: f.powershell("s", [`$u = '${AGENT_LINK}'`, "Invoke-WebRequest $u -OutFile a.msi"]),
        names: "linkid=2310011",
    },
    {
        title: "concatenated literals",
        step: f.powershell("s", ["Invoke-WebRequest -Uri ('https://go.microsoft.com/fwlink/?' + 'linkid=2310011') -OutFile a.msi"]),
        names: "linkid=2310011",
    },
    {
        title: "variables inside an expandable string",
        step: f.powershell("s", ["$base = 'https://go.microsoft.com'", "$id = 2311028", 'Invoke-WebRequest "$base/fwlink/?linkid=$id" -OutFile b.msi']),
        names: "linkid=2311028",
    },
    {
        title: "braced and scoped variables and +=",
        step: f.powershell("s", ["$script:u = 'https://go.microsoft.com/fwlink/?linkid='", "${script:u} += '231' + '0011'", "iwr ${u} -OutFile a.msi"]),
        names: "linkid=2310011",
    },
    {
        title: "an environment variable",
        step: f.powershell("s", ["$env:AGENT_BINARY_ID = 'RWrmXv'", "curl.exe -L -o a.msi https://query.prod.cms.rt.microsoft.com/cms/api/am/binary/$env:AGENT_BINARY_ID"]),
        names: "RWrmXv",
    },
    { title: "backtick escapes", step: f.powershell("s", ["iwr \"https://go.microsoft.com/fwlink/?link`id=231`0011\" -OutFile a.msi"]), names: "linkid=2310011" },
    { title: "a `u{} escape", step: f.powershell("s", ["iwr \"https://go.microsoft.com/fwlink/?linkid=231`u{30}011\" -OutFile a.msi"]), names: "linkid=2310011" },
    { title: "mixed case", step: f.powershell("s", ["Invoke-WebRequest HTTPS://Go.Microsoft.Com/FwLink/?LinkID=2311028&clcid=0x409 -OutFile b.msi"]), names: "linkid=2311028" },
    {
        title: "the -f format operator",
        step: f.powershell("s", ["$url = '{0}/fwlink/?linkid={1}' -f 'https://go.microsoft.com', 2310011", "Invoke-WebRequest $url -OutFile a.msi"]),
        names: "linkid=2310011",
    },
    {
        title: "-join and [string]::Concat",
        step: f.powershell("s", [
            "$a = ('https://go.microsoft.com/fwlink/?', 'linkid=2311028') -join ''",
            "$b = [string]::Concat('https://query.prod.cms.rt.microsoft.com/cms/api/am/binary/', 'RWrmXv')",
        ]),
        names: "linkid=2311028",
    },
    {
        title: "a here-string",
        step: f.powershell("s", ["$base = @'", "https://go.microsoft.com/fwlink/?linkid=", "'@", "Invoke-WebRequest -Uri ($base + '2310011') -OutFile a.msi"]),
        names: "linkid=2310011",
    },
    { title: "percent-encoded ? and =", step: f.powershell("s", ["Invoke-WebRequest https://go.microsoft.com/fwlink/%3Flinkid%3D2310011 -OutFile a.msi"]), names: "linkid=2310011" },
    { title: "typographic quotes", step: f.powershell("s", ["Invoke-WebRequest (\u2018https://go.microsoft.com/fwlink/?\u2019 + \u201Clinkid=2311028\u201D) -OutFile b.msi"]), names: "linkid=2311028" },
    {
        title: "a backtick line continuation",
        step: f.powershell("s", ["Start-Process msiexec.exe `", "  -ArgumentList '/i C:\\Temp\\Microsoft.RDInfra.RDAgent.Installer-x64-1.0.9742.msi /quiet' -Wait"]),
        names: "Microsoft.RDInfra.RDAgent.Installer",
    },
    {
        title: "the boot loader installer file name",
        step: f.powershell("s", ["msiexec /i C:\\Temp\\Microsoft.RDInfra.RDAgentBootLoader.Installer-x64.msi /quiet"]),
        names: "Microsoft.RDInfra.RDAgentBootLoader.Installer",
    },
    { title: "a Shell customizer", step: { type: "Shell", name: "s", inline: [`curl -L -o /tmp/a.msi '${AGENT_BINARY}'`] }, names: "RWrmXv" },
    { title: "a script URI", step: { type: "PowerShell", name: "s", scriptUri: BOOT_LOADER_LINK, sha256Checksum: f.SHA }, names: "scriptUri" },
    { title: "a File customizer's source", step: { type: "File", name: "s", sourceUri: AGENT_BINARY, destination: "C:\\Temp\\agent.msi", sha256Checksum: f.SHA }, names: "sourceUri" },
    {
        title: "a File customizer's percent-encoded source",
        step: { type: "File", name: "s", sourceUri: "https://go.microsoft.com/fwlink/%3FLinkId%3D2311028", destination: "C:\\Temp\\b.msi", sha256Checksum: f.SHA },
        names: "linkid=2311028",
    },
];

/** Steps that look similar but install something else or only check: no violation. */
const LOOK_ALIKES: Array<{ title: string; step: Customizer }> = [
    { title: "the Remote Desktop client (linkid=2139369)", step: f.powershell("s", ["Invoke-WebRequest https://go.microsoft.com/fwlink/?linkid=2139369 -OutFile C:\\Temp\\RemoteDesktop.msi"]) },
    { title: "a longer link id", step: f.powershell("s", ["Invoke-WebRequest https://go.microsoft.com/fwlink/?linkid=23100119 -OutFile C:\\Temp\\other.msi"]) },
    { title: "another binary on the same download host", step: f.powershell("s", ["Invoke-WebRequest https://query.prod.cms.rt.microsoft.com/cms/api/am/binary/RWQ1LO -OutFile C:\\Temp\\other.msi"]) },
    { title: "the agent link in a comment", step: f.powershell("s", ["# the agent (https://go.microsoft.com/fwlink/?linkid=2310011) installs at registration", "Write-Output 'ok'"]) },
    { title: "a check that the agent is absent", step: f.powershell("s", ["if (Get-Service RDAgentBootLoader -ErrorAction SilentlyContinue) { throw 'RDAgentBootLoader is in the image' }"]) },
];

describe(`policy ${POLICY}: documented AVD agent downloads, however spelled`, () => {
    let pack: PolicyPackHandle;
    let violations: PolicyViolation[];
    const urnOf = (i: number, kind: string) => `urn:pulumi:test::${f.PROJECT}::${TEMPLATE}::${kind}-${i}`;

    before(async function () {
        this.timeout(60_000);
        pack = startPolicyPack();
        const resources = [
            f.stackResource("test"),
            ...SPELLINGS.map((c, i) => f.resource("test", TEMPLATE, `spelling-${i}`, f.templateInputs([c.step]))),
            ...LOOK_ALIKES.map((c, i) => f.resource("test", TEMPLATE, `lookalike-${i}`, f.templateInputs([c.step]))),
        ];
        violations = (await pack.analyze(resources, { stack: "test", config: null })).filter((v) => v.policy === POLICY);
    });

    after(() => pack.close());

    SPELLINGS.forEach((c, i) => {
        it(`stops ${c.title} as a mandatory violation`, () => {
            const found = violations.filter((v) => v.urn === urnOf(i, "spelling"));
            assert.ok(found.length >= 1, `no violation for ${c.title}`);
            assert.ok(found.every((v) => v.enforcementLevel === "mandatory"), JSON.stringify(found, null, 2));
            assert.ok(
                found.some((v) => v.message.toLowerCase().includes(c.names.toLowerCase())),
                `"${c.names}" not in: ${found.map((v) => v.message).join(" | ")}`,
            );
        });
    });

    LOOK_ALIKES.forEach((c, i) => {
        it(`lets ${c.title} pass`, () => {
            assert.deepEqual(violations.filter((v) => v.urn === urnOf(i, "lookalike")), []);
        });
    });
});
