import { strict as assert } from "node:assert";
import { gunzipSync } from "node:zlib";
import { registrationCommand, WINDOWS_COMMAND_LINE_LIMIT, type RegistrationScriptOptions } from "../src/sessionHosts/agentRegistration";
import { HEALTH_ENDPOINT } from "../src/sessionHosts/healthProbe";
import { compactPowerShell, compactSessionHostScript, readSessionHostScript } from "../src/sessionHosts/scripts";

/** A JWT-shaped token of the given length, like the ones AVD issues (about 1-2 KB). */
function jwt(length: number): string {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let body = "";
    for (let i = 0; body.length < length - 40; i++) body += alphabet[(i * 7919 + 13) % alphabet.length];
    return `eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.${body}.c2ln`.slice(0, length);
}

const entra: RegistrationScriptOptions = { joinType: "EntraID", checkFslogix: true, healthPort: HEALTH_ENDPOINT.port };
const ad: RegistrationScriptOptions = { joinType: "ActiveDirectory", checkFslogix: false, healthPort: HEALTH_ENDPOINT.port };

/** What the one-line bootstrap expands on the host: the gzip+base64 payloads, in order. */
function payloads(command: string): string[] {
    return [...command.matchAll(/Expand-Script '([A-Za-z0-9+/=]+)'/g)].map((m) => gunzipSync(Buffer.from(m[1], "base64")).toString("utf8"));
}

describe("AVD agent registration command", () => {
    const token = jwt(1200);

    it("carries Register-SessionHost.ps1 and HealthEndpoint.ps1 exactly as compacted from src/sessionHosts/scripts", () => {
        const [register, health] = payloads(registrationCommand(token, entra));
        assert.equal(register, compactSessionHostScript("Register-SessionHost.ps1"));
        assert.equal(health, compactSessionHostScript("HealthEndpoint.ps1"));
    });

    it("runs the registration script with the token as its only secret argument", () => {
        const command = registrationCommand(token, entra);
        assert.equal(command.split(token).length - 1, 1, "the token appears exactly once");
        assert.ok(command.includes(`& ([scriptblock]::Create((Expand-Script '`));
        assert.ok(command.includes(`-RegistrationToken '${token}'`));
        for (const script of payloads(command)) assert.ok(!script.includes(token), "the token is not baked into a script");
    });

    it("keeps the scripts free of any literal token: they only read the -RegistrationToken parameter", () => {
        const register = readSessionHostScript("Register-SessionHost.ps1");
        assert.ok(register.includes('"REGISTRATIONTOKEN=$RegistrationToken"'));
        assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(register + readSessionHostScript("HealthEndpoint.ps1")));
    });

    for (const [label, options] of [["Entra ID + FSLogix", entra], ["Active Directory", ad]] as const) {
        it(`stays under Windows' ${WINDOWS_COMMAND_LINE_LIMIT}-character command line with a 2 KB token (${label})`, () => {
            const command = registrationCommand(jwt(2048), options);
            assert.ok(command.length < WINDOWS_COMMAND_LINE_LIMIT, `${command.length} characters`);
        });
    }

    it("refuses a token that would push the command past the limit instead of letting Windows truncate it", () => {
        assert.throws(() => registrationCommand(jwt(6000), entra), /over Windows' limit of 8191.*6000 characters/);
    });

    it("refuses a token that is not JWT-shaped, so nothing can break out of the quoted command", () => {
        assert.throws(() => registrationCommand(`${token}' ; Remove-Item C:\\ -Recurse ; '`, entra), /not a JWT/);
        assert.throws(() => registrationCommand(`${token}"`, entra), /not a JWT/);
        assert.throws(() => registrationCommand("", entra), /not a JWT/);
    });

    it("is safe for cmd.exe: no %, and double quotes only around the -Command argument", () => {
        const command = registrationCommand(token, entra);
        assert.ok(!command.includes("%"));
        assert.equal(command.split('"').length - 1, 2);
        assert.ok(command.startsWith('powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "'));
        assert.ok(command.endsWith('"'));
    });

    it("is identical for identical inputs, so an unchanged token never changes the scale-set model", () => {
        assert.equal(registrationCommand(token, entra), registrationCommand(token, entra));
        assert.notEqual(registrationCommand(token, entra), registrationCommand(jwt(1201), entra));
    });

    it("passes the join type, the health port the extension probes and the FSLogix switch", () => {
        assert.match(registrationCommand(token, entra), /-JoinType EntraID -HealthPort 8090 -CheckFslogix"$/);
        assert.match(registrationCommand(token, ad), /-JoinType ActiveDirectory -HealthPort 8090"$/);
    });
});

describe("session-host PowerShell scripts", () => {
    const register = readSessionHostScript("Register-SessionHost.ps1");
    const health = readSessionHostScript("HealthEndpoint.ps1");

    it("install the agent and boot loader from Microsoft's links and skip hosts that are already registered", () => {
        assert.ok(register.includes("https://go.microsoft.com/fwlink/?linkid=2310011"));
        assert.ok(register.includes("https://go.microsoft.com/fwlink/?linkid=2311028"));
        assert.match(register, /if \(Test-AgentRegistered\) \{\s*Write-Log 'AVD agent already registered; nothing to do'\s*return/);
        assert.ok(register.includes("IsRegistered -eq 1"));
        assert.ok(register.includes("Get-AuthenticodeSignature"), "downloads are checked for Microsoft's signature");
    });

    it("never write a verbose MSI log, which would record the token", () => {
        assert.ok(!/\/l\*?v/i.test(register));
    });

    it("install the health endpoint as a SYSTEM task on the port the Application Health extension probes", () => {
        assert.ok(register.includes("New-ScheduledTaskPrincipal -UserId 'SYSTEM'"));
        assert.ok(register.includes("-AtStartup"));
        assert.match(register, new RegExp(`\\[int\\]\\$HealthPort = ${HEALTH_ENDPOINT.port}`));
        assert.match(health, new RegExp(`\\[int\\]\\$Port = ${HEALTH_ENDPOINT.port}`));
        assert.ok(health.includes(`'${HEALTH_ENDPOINT.requestPath}'`));
    });

    it("answer Rich Health States from the boot loader, the agent registration, the join and FSLogix", () => {
        assert.ok(health.includes("ApplicationHealthState = $state"));
        assert.ok(health.includes("'Healthy'") && health.includes("'Unhealthy'"));
        assert.ok(health.includes("Test-ServiceRunning 'RDAgentBootLoader'"));
        assert.ok(health.includes("HKLM:\\SOFTWARE\\Microsoft\\RDInfraAgent") && health.includes("IsRegistered -ne 1"));
        assert.ok(health.includes("AzureAdJoined") && health.includes("PartOfDomain"));
        assert.ok(health.includes("$CheckFslogix -and -not (Test-ServiceRunning 'frxsvc')"));
    });

    it("listen on loopback names only, never on every address", () => {
        const prefixes = [...health.matchAll(/Prefixes\.Add\("([^"]+)"\)/g)].map((m) => m[1]);
        assert.deepEqual(prefixes, ["http://127.0.0.1:$Port/", "http://localhost:$Port/"]);
    });

    it("are plain ASCII, which Windows PowerShell reads the same in any code page", () => {
        assert.ok(/^[\x09\x0a\x0d\x20-\x7e]*$/.test(register + health));
    });
});

describe("compactPowerShell", () => {
    it("drops help, comments, indentation and blank lines but keeps every statement verbatim", () => {
        const script = [
            "<#",
            ".SYNOPSIS",
            "    Example",
            "#>",
            "param([string]$Name)",
            "",
            "# explain why",
            "    if ($Name) {",
            "        Write-Output \"hello $Name\" # trailing comments stay",
            "    }",
        ].join("\n");
        assert.equal(compactPowerShell(script), 'param([string]$Name)\nif ($Name) {\nWrite-Output "hello $Name" # trailing comments stay\n}');
    });

    it("keeps every statement line of the shipped scripts", () => {
        for (const name of ["Register-SessionHost.ps1", "HealthEndpoint.ps1"] as const) {
            const statements = readSessionHostScript(name)
                .replace(/<#[\s\S]*?#>/g, "")
                .split("\n")
                .map((l) => l.trim())
                .filter((l) => l && !l.startsWith("#"));
            assert.deepEqual(compactSessionHostScript(name).split("\n"), statements);
        }
    });

    it("refuses here-strings rather than re-indenting their content", () => {
        assert.throws(() => compactPowerShell("$x = @'\n  keep my indentation\n'@"), /here-strings/);
    });
});
