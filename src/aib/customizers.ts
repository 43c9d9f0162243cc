// The `customize` list of the Image Builder template, in the seed's build order. Property names
// and casing follow Microsoft.VirtualMachineImages 2024-02-01 (imagebuilder.json), which rejects
// unknown or miscased fields.
import type { ChocolateyPackage, CustomizationsConfig } from "../config/types";
import { psArray, psQuote, psUnquote, readAibScript } from "./powershell";

/** PowerShell customizer. Elevated as SYSTEM: as the build user, installers wait for a UAC prompt and the build hangs. */
export interface PowerShellCustomizer {
    type: "PowerShell";
    name: string;
    inline?: string[];
    scriptUri?: string;
    sha256Checksum?: string;
    runElevated: true;
    runAsSystem: true;
}

export interface WindowsUpdateCustomizer {
    type: "WindowsUpdate";
    name: string;
    searchCriteria: string;
    filters: string[];
    updateLimit: number;
}

export interface WindowsRestartCustomizer {
    type: "WindowsRestart";
    name: string;
    restartCheckCommand: string;
    restartTimeout: string;
}

export type Customizer = PowerShellCustomizer | WindowsUpdateCustomizer | WindowsRestartCustomizer;

/** Step names of the customizers this program generates (configured scripts keep their own names). */
export const STEP_NAMES = {
    windowsUpdate: "windows-update",
    powershellModules: "install-powershell-modules",
    chocolatey: "install-chocolatey-packages",
    restart: "restart-after-customization",
    optimization: "virtual-desktop-optimization",
    cleanup: "image-cleanup",
    inventory: "image-inventory",
} as const;

/** The Virtual Desktop Optimization Tool, downloaded from its GitHub repository at build time (seed 000 section 9). */
export const VDOT_REPOSITORY = "https://github.com/The-Virtual-Desktop-Team/Virtual-Desktop-Optimization-Tool";
export const VDOT_ARCHIVE_URI = `${VDOT_REPOSITORY}/archive/refs/heads/main.zip`;

/** Chocolatey exit codes that mean success: 0, and 1641/3010 ("installed, restart required"). */
export const CHOCOLATEY_SUCCESS_EXIT_CODES = [0, 1641, 3010] as const;

function powershell(name: string, body: { inline: string[] } | { scriptUri: string; sha256Checksum: string }): PowerShellCustomizer {
    return { type: "PowerShell", name, ...body, runElevated: true, runAsSystem: true };
}

/** `choco install <id> [--version <v>] -y --no-progress` for one package. */
export function chocolateyInstallLine(pkg: ChocolateyPackage): string {
    const version = pkg.version === undefined ? [] : ["--version", psQuote(pkg.version)];
    return ["&", "$choco", "install", psQuote(pkg.name), ...version, "-y", "--no-progress"].join(" ");
}

const CHOCOLATEY_INSTALL_LINE = /^& \$choco install ('(?:[^']|'')*')(?: --version ('(?:[^']|'')*'))? -y --no-progress$/;

/** The package of a line chocolateyInstallLine wrote, or undefined for any other line. */
export function parseChocolateyInstallLine(line: string): ChocolateyPackage | undefined {
    const m = CHOCOLATEY_INSTALL_LINE.exec(line);
    if (!m) return undefined;
    return m[2] === undefined ? { name: psUnquote(m[1]) } : { name: psUnquote(m[1]), version: psUnquote(m[2]) };
}

/** The Chocolatey step: install Chocolatey if missing, then each package, failing on any other exit code. */
export function chocolateyScript(packages: readonly ChocolateyPackage[]): string[] {
    return [
        `$chocoSuccessExitCodes = @(${CHOCOLATEY_SUCCESS_EXIT_CODES.join(", ")})`,
        ...readAibScript("Install-ChocolateyPackages.ps1"),
        ...packages.flatMap((pkg) => [chocolateyInstallLine(pkg), `Assert-ChocoSucceeded -Package ${psQuote(pkg.name)} -ExitCode $LASTEXITCODE`]),
        // The last package's 3010 would otherwise become the step's exit code and fail the build.
        "exit 0",
    ];
}

/** The PowerShell modules step: NuGet provider, PSGallery trusted for the step, then Install-Module per missing module. */
export function powershellModulesScript(modules: readonly string[]): string[] {
    return [...readAibScript("Install-PowerShellModules.ps1"), `${INSTALL_MODULES_CALL} ${psArray(modules)}`];
}

const INSTALL_MODULES_CALL = "Install-GalleryModules -Name";

/** The modules of the call line powershellModulesScript wrote, or undefined for any other line. */
export function parsePowershellModulesLine(line: string): string[] | undefined {
    if (!line.startsWith(`${INSTALL_MODULES_CALL} @(`) || !line.endsWith(")")) return undefined;
    const list = line.slice(INSTALL_MODULES_CALL.length + 3, -1);
    return [...list.matchAll(/'((?:[^']|'')*)'/g)].map((m) => psUnquote(`'${m[1]}'`));
}

export function optimizationScript(): string[] {
    return [`$VdotArchiveUri = ${psQuote(VDOT_ARCHIVE_URI)}`, ...readAibScript("Invoke-VirtualDesktopOptimization.ps1")];
}

export function cleanupScript(): string[] {
    return readAibScript("Invoke-ImageCleanup.ps1");
}

/** The inventory step: writes the image's contents into customization.log for the release notes. */
export function inventoryScript(): string[] {
    return readAibScript("Get-ImageInventory.ps1");
}

/**
 * The customizers in build order: Windows Update, PowerShell modules, inline scripts (stack-file
 * order), script URIs (stack-file order), Chocolatey, restart, optimisation, cleanup, and always
 * last the inventory for the release notes (after cleanup, so it lists what the image keeps).
 * Steps whose option is off or whose list is empty are left out.
 */
export function buildCustomizers(c: CustomizationsConfig): Customizer[] {
    const steps: Customizer[] = [];
    if (c.windowsUpdate.enabled) {
        steps.push({
            type: "WindowsUpdate",
            name: STEP_NAMES.windowsUpdate,
            searchCriteria: c.windowsUpdate.searchCriteria,
            filters: [...c.windowsUpdate.filters],
            updateLimit: c.windowsUpdate.updateLimit,
        });
    }
    if (c.powershellModules.length > 0) {
        steps.push(powershell(STEP_NAMES.powershellModules, { inline: powershellModulesScript(c.powershellModules) }));
    }
    for (const script of c.inlineScripts) {
        steps.push(powershell(script.name, { inline: [...script.lines] }));
    }
    for (const script of c.scriptUris) {
        steps.push(powershell(script.name, { scriptUri: script.uri, sha256Checksum: script.sha256 }));
    }
    if (c.chocolateyPackages.length > 0) {
        steps.push(powershell(STEP_NAMES.chocolatey, { inline: chocolateyScript(c.chocolateyPackages) }));
    }
    if (c.restartAfterCustomization) {
        steps.push({
            type: "WindowsRestart",
            name: STEP_NAMES.restart,
            restartCheckCommand: `powershell -NoProfile -Command "Write-Output 'restarted after customization'"`,
            restartTimeout: "15m",
        });
    }
    if (c.runOptimization) {
        steps.push(powershell(STEP_NAMES.optimization, { inline: optimizationScript() }));
    }
    if (c.runCleanup) {
        steps.push(powershell(STEP_NAMES.cleanup, { inline: cleanupScript() }));
    }
    steps.push(powershell(STEP_NAMES.inventory, { inline: inventoryScript() }));
    return steps;
}
