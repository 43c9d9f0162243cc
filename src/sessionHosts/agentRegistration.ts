// How the AVD agent reaches a session host: installed at registration time, never baked into
// the image. The default uses the Custom Script Extension (the DSC registration extension
// retires in March 2028); another mechanism only has to implement AgentRegistration.
import { gzipSync } from "node:zlib";
import * as pulumi from "@pulumi/pulumi";
import type { DomainJoinConfig } from "../config/types";
import type { ScaleSetExtension } from "./extensions";
import { HEALTH_ENDPOINT } from "./healthProbe";
import { compactSessionHostScript } from "./scripts";

/**
 * cmd.exe's command-line limit. commandToExecute is kept within it, and free of `%` and of `"`
 * inside the quoted part, so it runs the same whether or not the extension goes through cmd.exe.
 */
export const WINDOWS_COMMAND_LINE_LIMIT = 8191;

export interface HostRegistration {
    /** The host pool's registration token; a Pulumi secret. */
    registrationToken: pulumi.Input<string>;
    joinType: DomainJoinConfig["type"];
    /** Whether the health endpoint also requires the FSLogix service. */
    checkFslogix: boolean;
    /** Extensions that must finish first (the directory join). */
    provisionAfterExtensions: string[];
}

export interface AgentRegistration {
    /** Extension name; later extensions wait for it through provisionAfterExtensions. */
    readonly extensionName: string;
    /** The extension that installs the agent, registers the host and serves the health endpoint. */
    extension(host: HostRegistration): ScaleSetExtension;
}

export interface RegistrationScriptOptions {
    joinType: DomainJoinConfig["type"];
    checkFslogix: boolean;
    healthPort: number;
}

// AVD registration tokens are JWTs; anything else could break out of the quoted command line.
const TOKEN_PATTERN = /^[A-Za-z0-9._-]+$/;

/** Gzip + base64: about a third of the script's size, and free of characters cmd.exe or PowerShell would interpret. */
function pack(script: string): string {
    return gzipSync(Buffer.from(script, "utf8"), { level: 9 }).toString("base64");
}

/**
 * The command line that runs Register-SessionHost.ps1 with the token and HealthEndpoint.ps1.
 * `-EncodedCommand` would need UTF-16LE base64 (2.7 times the script) and leave no room for
 * the scripts next to a token, so both scripts travel gzip-compressed and are expanded by a
 * one-line bootstrap; the token is a plain argument. Deterministic, so an unchanged token
 * leaves the scale-set model unchanged.
 */
export function registrationCommand(registrationToken: string, options: RegistrationScriptOptions): string {
    if (!TOKEN_PATTERN.test(registrationToken)) {
        throw new Error("the host pool registration token is not a JWT (letters, digits, '.', '_', '-'); refusing to place it on a command line");
    }
    const register = pack(compactSessionHostScript("Register-SessionHost.ps1"));
    const health = pack(compactSessionHostScript("HealthEndpoint.ps1"));
    const bootstrap = [
        "$ErrorActionPreference='Stop'",
        "function Expand-Script($b){$z=New-Object IO.Compression.GZipStream((New-Object IO.MemoryStream(,[Convert]::FromBase64String($b))),[IO.Compression.CompressionMode]::Decompress);(New-Object IO.StreamReader($z,[Text.Encoding]::UTF8)).ReadToEnd()}",
        `& ([scriptblock]::Create((Expand-Script '${register}'))) -RegistrationToken '${registrationToken}'` +
            ` -HealthEndpointScript (Expand-Script '${health}') -JoinType ${options.joinType} -HealthPort ${options.healthPort}` +
            (options.checkFslogix ? " -CheckFslogix" : ""),
    ].join(";");
    const command = `powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "${bootstrap}"`;
    if (command.length > WINDOWS_COMMAND_LINE_LIMIT) {
        throw new Error(
            `the AVD agent registration command is ${command.length} characters, over Windows' limit of ${WINDOWS_COMMAND_LINE_LIMIT} ` +
                `(registration token: ${registrationToken.length} characters); shorten src/sessionHosts/scripts/*.ps1`,
        );
    }
    return command;
}

export const AGENT_EXTENSION_NAME = "AvdAgentRegistration";

export const customScriptAgentRegistration: AgentRegistration = {
    extensionName: AGENT_EXTENSION_NAME,
    extension(host: HostRegistration): ScaleSetExtension {
        const options = { joinType: host.joinType, checkFslogix: host.checkFslogix, healthPort: HEALTH_ENDPOINT.port };
        return {
            name: AGENT_EXTENSION_NAME,
            publisher: "Microsoft.Compute",
            type: "CustomScriptExtension",
            typeHandlerVersion: "1.10",
            autoUpgradeMinorVersion: true,
            // The token exists only here: protected settings are encrypted to the VM and never read back.
            protectedSettings: pulumi.secret(
                pulumi.output(host.registrationToken).apply((token): Record<string, string> => ({ commandToExecute: registrationCommand(token, options) })),
            ),
            provisionAfterExtensions: host.provisionAfterExtensions,
        };
    },
};
