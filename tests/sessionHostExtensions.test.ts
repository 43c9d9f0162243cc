import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import type { DomainJoinConfig } from "../src/config/types";
import { AGENT_EXTENSION_NAME, type AgentRegistration, type HostRegistration } from "../src/sessionHosts/agentRegistration";
import { domainJoinExtension, domainJoinUser, INTUNE_MDM_ID, needsSystemAssignedIdentity, sessionHostExtensions, type ScaleSetExtension } from "../src/sessionHosts/extensions";
import { HEALTH_ENDPOINT } from "../src/sessionHosts/healthProbe";
import type { GpuConfig } from "../src/config/gpu";

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJSZWdpc3RyYXRpb25JZCI6InRlc3QifQ.c2lnbmF0dXJl";

function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => { resolve(v); return v; }));
}

const entra: DomainJoinConfig = { type: "EntraID", intuneEnroll: false };
const entraIntune: DomainJoinConfig = { type: "EntraID", intuneEnroll: true };
const activeDirectory = (): DomainJoinConfig => ({
    type: "ActiveDirectory",
    domainName: "corp.contoso.com",
    ouPath: "OU=AVD,DC=corp,DC=contoso,DC=com",
    username: "svc-avdjoin",
    password: pulumi.secret("Join-Pa55word!"),
});

const names = (extensions: ScaleSetExtension[]) => extensions.map((e) => e.name);

describe("session-host extensions", () => {
    it("joins first, then installs and registers the AVD agent, then reports health", () => {
        const extensions = sessionHostExtensions({ domainJoin: entra, healthGate: { checkFslogix: true }, registrationToken: pulumi.secret(TOKEN) });
        assert.deepEqual(names(extensions), ["AADLoginForWindows", AGENT_EXTENSION_NAME, "ApplicationHealth"]);
        assert.equal(extensions[0].provisionAfterExtensions, undefined);
        assert.deepEqual(extensions[1].provisionAfterExtensions, ["AADLoginForWindows"]);
        assert.deepEqual(extensions[2].provisionAfterExtensions, [AGENT_EXTENSION_NAME]);
    });

    it("waits for the Active Directory join (and its restart) before registering", () => {
        const extensions = sessionHostExtensions({ domainJoin: activeDirectory(), healthGate: { checkFslogix: true }, registrationToken: TOKEN });
        assert.deepEqual(names(extensions), ["DomainJoin", AGENT_EXTENSION_NAME, "ApplicationHealth"]);
        assert.deepEqual(extensions[1].provisionAfterExtensions, ["DomainJoin"]);
    });

    describe("Microsoft Entra join", () => {
        it("uses AADLoginForWindows and needs the scale set's system-assigned identity", () => {
            const ext = domainJoinExtension(entra);
            assert.equal(ext.publisher, "Microsoft.Azure.ActiveDirectory");
            assert.equal(ext.type, "AADLoginForWindows");
            assert.equal(needsSystemAssignedIdentity(entra), true);
            assert.equal(needsSystemAssignedIdentity(activeDirectory()), false);
        });

        it("enrolls in Intune only when intuneEnroll is set", () => {
            assert.equal(domainJoinExtension(entraIntune).settings?.mdmId, INTUNE_MDM_ID);
            assert.equal(domainJoinExtension(entra).settings?.mdmId, "");
        });
    });

    describe("Active Directory join", () => {
        it("uses JsonADDomainExtension with the domain, OU, join account, restart and options 3", () => {
            const ext = domainJoinExtension(activeDirectory());
            assert.equal(ext.publisher, "Microsoft.Compute");
            assert.equal(ext.type, "JsonADDomainExtension");
            assert.deepEqual(ext.settings, {
                Name: "corp.contoso.com",
                OUPath: "OU=AVD,DC=corp,DC=contoso,DC=com",
                User: "corp.contoso.com\\svc-avdjoin",
                Restart: "true",
                Options: "3",
            });
        });

        it("passes the join password only in protected settings, as a secret", async () => {
            const ext = domainJoinExtension(activeDirectory());
            assert.ok(!JSON.stringify(ext.settings).includes("Join-Pa55word!"));
            assert.ok(ext.protectedSettings);
            assert.equal(await pulumi.isSecret(ext.protectedSettings), true);
            assert.deepEqual(await valueOf(ext.protectedSettings), { Password: "Join-Pa55word!" });
        });

        it("joins into the default computers container when no OU is configured", () => {
            const join = { ...activeDirectory(), ouPath: undefined };
            assert.equal(domainJoinExtension(join).settings?.OUPath, "");
        });

        it("qualifies a bare join account with the domain and keeps qualified ones", () => {
            assert.equal(domainJoinUser("corp.contoso.com", "svc-join"), "corp.contoso.com\\svc-join");
            assert.equal(domainJoinUser("corp.contoso.com", "CORP\\svc-join"), "CORP\\svc-join");
            assert.equal(domainJoinUser("corp.contoso.com", "svc-join@corp.contoso.com"), "svc-join@corp.contoso.com");
        });
    });

    describe("AVD agent registration", () => {
        it("runs the Custom Script Extension 1.10 with the token only in secret protected settings", async () => {
            const [, agent] = sessionHostExtensions({ domainJoin: entra, healthGate: { checkFslogix: false }, registrationToken: pulumi.secret(TOKEN) });
            assert.equal(agent.publisher, "Microsoft.Compute");
            assert.equal(agent.type, "CustomScriptExtension");
            assert.equal(agent.typeHandlerVersion, "1.10");
            assert.equal(agent.settings, undefined, "nothing in public settings, which anyone with read access sees");
            assert.ok(agent.protectedSettings);
            assert.equal(await pulumi.isSecret(agent.protectedSettings), true);
            const { commandToExecute } = await valueOf(agent.protectedSettings);
            assert.ok(commandToExecute.includes(`-RegistrationToken '${TOKEN}'`));
        });

        it("marks the command secret even when the token arrives as a plain string", async () => {
            const [, agent] = sessionHostExtensions({ domainJoin: entra, healthGate: { checkFslogix: false }, registrationToken: TOKEN });
            assert.ok(agent.protectedSettings);
            assert.equal(await pulumi.isSecret(agent.protectedSettings), true);
        });

        it("tells the health endpoint which join to check and whether FSLogix counts", async () => {
            const [, agent] = sessionHostExtensions({ domainJoin: activeDirectory(), healthGate: { checkFslogix: true }, registrationToken: TOKEN });
            assert.ok(agent.protectedSettings);
            const { commandToExecute } = await valueOf(agent.protectedSettings);
            assert.match(commandToExecute, /-JoinType ActiveDirectory -HealthPort 8090 -CheckFslogix"$/);
        });

        it("can be swapped for another mechanism, which then gets the token and the join to wait for", () => {
            const seen: HostRegistration[] = [];
            const alternative: AgentRegistration = {
                extensionName: "AvdAgentFromPackage",
                extension(host) {
                    seen.push(host);
                    return { name: "AvdAgentFromPackage", publisher: "Contoso.Avd", type: "AgentInstaller", typeHandlerVersion: "1.0", autoUpgradeMinorVersion: true, provisionAfterExtensions: host.provisionAfterExtensions };
                },
            };
            const extensions = sessionHostExtensions({ domainJoin: entra, healthGate: { checkFslogix: true }, registrationToken: TOKEN, agentRegistration: alternative });
            assert.deepEqual(names(extensions), ["AADLoginForWindows", "AvdAgentFromPackage", "ApplicationHealth"]);
            assert.deepEqual(extensions[2].provisionAfterExtensions, ["AvdAgentFromPackage"]);
            assert.equal(seen.length, 1);
            assert.equal(seen[0].registrationToken, TOKEN);
            assert.equal(seen[0].joinType, "EntraID");
            assert.deepEqual(seen[0].provisionAfterExtensions, ["AADLoginForWindows"]);
        });
    });

    describe("Application Health", () => {
        const health = () => sessionHostExtensions({ domainJoin: entra, healthGate: { checkFslogix: true }, registrationToken: TOKEN })[2];

        it("uses Rich Health States (ApplicationHealthWindows 2.0)", () => {
            const ext = health();
            assert.equal(ext.publisher, "Microsoft.ManagedServices");
            assert.equal(ext.type, "ApplicationHealthWindows");
            assert.equal(ext.typeHandlerVersion, "2.0");
        });

        it("probes the session host's local health endpoint, not the default HTTP :80 nothing answers", () => {
            const settings = health().settings ?? {};
            assert.equal(settings.protocol, "http");
            assert.equal(settings.port, HEALTH_ENDPOINT.port);
            assert.notEqual(settings.port, 80);
            assert.equal(settings.requestPath, "/health");
        });

        it("gives a new host time to join, restart and register, within Azure's 7200 s maximum", () => {
            const grace = Number(health().settings?.gracePeriod);
            assert.ok(grace >= 900 && grace <= 7200, `gracePeriod ${grace}`);
        });
    });
    describe("GPU driver (GPU pools)", () => {
        const withGpu = (gpu: GpuConfig, domainJoin: DomainJoinConfig = entra) => sessionHostExtensions({ domainJoin, healthGate: { checkFslogix: true }, registrationToken: TOKEN, gpu });

        it("installs the NVIDIA driver after the join and before the AVD agent registers the host", () => {
            const extensions = withGpu({ vendor: "nvidia", install: "extension" });
            assert.deepEqual(names(extensions), ["AADLoginForWindows", "NvidiaGpuDriverWindows", AGENT_EXTENSION_NAME, "ApplicationHealth"]);
            assert.deepEqual(extensions[1].provisionAfterExtensions, ["AADLoginForWindows"]);
            assert.deepEqual(extensions[2].provisionAfterExtensions, ["NvidiaGpuDriverWindows"], "a host takes users only once its GPU driver is in");
            assert.deepEqual(extensions[3].provisionAfterExtensions, [AGENT_EXTENSION_NAME]);
        });

        it("waits for the Active Directory join's restart too", () => {
            const extensions = withGpu({ vendor: "amd", install: "extension" }, activeDirectory());
            assert.deepEqual(names(extensions), ["DomainJoin", "AmdGpuDriverWindows", AGENT_EXTENSION_NAME, "ApplicationHealth"]);
            assert.deepEqual(extensions[1].provisionAfterExtensions, ["DomainJoin"]);
        });

        it("uses Microsoft's NVIDIA GPU Driver Extension (Microsoft.HpcCompute, 1.10), pinning the driver only when asked", () => {
            const [, latest] = withGpu({ vendor: "nvidia", install: "extension" });
            assert.deepEqual({ ...latest, provisionAfterExtensions: undefined }, {
                name: "NvidiaGpuDriverWindows",
                publisher: "Microsoft.HpcCompute",
                type: "NvidiaGpuDriverWindows",
                typeHandlerVersion: "1.10",
                autoUpgradeMinorVersion: true,
                provisionAfterExtensions: undefined,
            });
            const [, pinned] = withGpu({ vendor: "nvidia", install: "extension", driverVersion: "538.46" });
            assert.deepEqual(pinned.settings, { driverVersion: "538.46" });
            assert.equal(pinned.protectedSettings, undefined);
        });

        it("uses Microsoft's AMD GPU Driver Extension (Microsoft.HpcCompute, 1.1) without settings", () => {
            const [, amd] = withGpu({ vendor: "amd", install: "extension" });
            assert.equal(amd.publisher, "Microsoft.HpcCompute");
            assert.equal(amd.type, "AmdGpuDriverWindows");
            assert.equal(amd.typeHandlerVersion, "1.1");
            assert.equal(amd.settings, undefined);
        });

        it("adds no driver extension when the image has the driver baked in", () => {
            const extensions = withGpu({ vendor: "nvidia", install: "image" });
            assert.deepEqual(names(extensions), ["AADLoginForWindows", AGENT_EXTENSION_NAME, "ApplicationHealth"]);
            assert.deepEqual(extensions[1].provisionAfterExtensions, ["AADLoginForWindows"]);
        });
    });
});
