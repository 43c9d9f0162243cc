// Commands that outputs, tools and error messages hand a user to paste, built from names that come
// from config or Azure. Every value goes through the quoter of the shell the command is written for,
// so a resource group such as `rg-avd-(eu)` or a name with a quote in it pastes as one argument.
// Hand-written because each rule is a few lines from the shell's own grammar, and no npm package
// quotes for PowerShell (shell-quote covers sh only).

/** Characters bash never treats specially inside a word (POSIX shell "Quoting" lists the others). */
const BASH_PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * `value` as one bash word: as is when every character is plain, otherwise single-quoted. Nothing
 * is special inside bash single quotes except the closing quote, written as `'\''`.
 */
export function bashWord(value: string): string {
    if (BASH_PLAIN.test(value)) return value;
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * PowerShell's single-quote-character (Windows PowerShell Language Specification 3.0, §2.3.5.2,
 * learn.microsoft.com/powershell/scripting/lang-spec/chapter-02): the apostrophe and the
 * typographic quotes U+2018, U+2019, U+201A and U+201B all open and close a verbatim string.
 */
const POWERSHELL_SINGLE_QUOTES = /['\u2018\u2019\u201A\u201B]/g;

/**
 * A bare PowerShell argument that can only read as itself: starts with a letter or `_` (a leading
 * dash would be a parameter name, a leading digit a number such as `1kb` or `0x10`, §2.3.4, §2.3.5.1)
 * and holds only letters, digits, `_`, `.` and `-` (none of them ends a generic token, §2.3.3).
 */
const POWERSHELL_PLAIN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * `value` as one PowerShell argument: bare when that is unambiguous, otherwise a verbatim
 * (single-quoted) string, in which nothing expands and each single-quote-character is doubled (§2.3.5.2).
 */
export function powershellWord(value: string): string {
    if (POWERSHELL_PLAIN.test(value)) return value;
    return `'${value.replace(POWERSHELL_SINGLE_QUOTES, (q) => q + q)}'`;
}

/**
 * An Azure CLI option with its value. A value that starts with `-` (resource group names may) is
 * attached with `=`, or the CLI's argument parser would take it for the next option.
 */
export function azOption(option: string, value: string): string {
    return value.startsWith("-") ? `${option}=${bashWord(value)}` : `${option} ${bashWord(value)}`;
}

/** A PowerShell parameter with its value. */
export function powershellParameter(parameter: string, value: string): string {
    return `${parameter} ${powershellWord(value)}`;
}

export interface ImageBuilderRunCommands {
    /** Azure CLI (bash). */
    cli: string;
    /** Azure PowerShell (Az.ImageBuilder). */
    powershell: string;
}

/** Starts a build of the image template by hand (the seed outputs buildCommandCli / buildCommandPowershell). */
export function imageBuilderRunCommands(resourceGroupName: string, templateName: string): ImageBuilderRunCommands {
    return {
        cli: `az image builder run ${azOption("--resource-group", resourceGroupName)} ${azOption("--name", templateName)}`,
        powershell: `Start-AzImageBuilderTemplate ${powershellParameter("-ResourceGroupName", resourceGroupName)} ${powershellParameter("-Name", templateName)}`,
    };
}

/** `--resource-group`, or its placeholder when the group is not known. */
function resourceGroupOption(resourceGroupName: string | undefined): string {
    return resourceGroupName === undefined ? "--resource-group <rg>" : azOption("--resource-group", resourceGroupName);
}

/** Cancels the running build of an image template (Azure CLI). */
export function imageBuilderCancelCommand(resourceGroupName: string | undefined, templateName: string): string {
    return `az image builder cancel ${resourceGroupOption(resourceGroupName)} ${azOption("--name", templateName)}`;
}

export interface GalleryImageVersionName {
    resourceGroupName: string | undefined;
    galleryName: string;
    imageDefinitionName: string;
    version: string;
}

/** Shows a gallery image version and its provisioning state (Azure CLI). */
export function galleryImageVersionShowCommand(v: GalleryImageVersionName): string {
    return [
        "az sig image-version show",
        resourceGroupOption(v.resourceGroupName),
        azOption("--gallery-name", v.galleryName),
        azOption("--gallery-image-definition", v.imageDefinitionName),
        azOption("--gallery-image-version", v.version),
    ].join(" ");
}

/**
 * Puts a drained session host back in service (Azure CLI desktopvirtualization extension). An
 * unknown resource group or host stays a `<placeholder>` for the user to fill in.
 */
export function sessionHostAllowNewSessionCommand(resourceGroupName: string | undefined, hostPoolName: string, sessionHostName?: string): string {
    return [
        "az desktopvirtualization sessionhost update",
        resourceGroupOption(resourceGroupName),
        azOption("--host-pool-name", hostPoolName),
        sessionHostName === undefined ? "--name <session host>" : azOption("--name", sessionHostName),
        "--allow-new-session true",
    ].join(" ");
}
