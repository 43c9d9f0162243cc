# Installs Chocolatey when it is missing, then the packages named by the generated lines that follow
# this script (one `& $choco install ...` line and one exit-code check per package). Safe to run
# again: Chocolatey skips a package that is already installed. $chocoSuccessExitCodes is defined
# by the generated line before this script: 0, and 1641/3010 ("installed, restart needed"; the
# build restarts and generalizes the VM later).
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$choco = Join-Path $env:ProgramData 'chocolatey\bin\choco.exe'
if (-not (Test-Path -Path $choco)) {
    Write-Output 'Installing Chocolatey'
    [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
    Set-ExecutionPolicy -ExecutionPolicy Bypass -Scope Process -Force
    Invoke-Expression ((New-Object System.Net.WebClient).DownloadString('https://community.chocolatey.org/install.ps1'))
}
if (-not (Test-Path -Path $choco)) {
    throw "Chocolatey did not install: $choco is missing"
}

function Assert-ChocoSucceeded {
    param([Parameter(Mandatory)][string] $Package, [Parameter(Mandatory)][int] $ExitCode)
    if ($chocoSuccessExitCodes -notcontains $ExitCode) {
        throw "choco install $Package failed with exit code $ExitCode"
    }
    Write-Output "choco install $Package succeeded (exit code $ExitCode)"
}
