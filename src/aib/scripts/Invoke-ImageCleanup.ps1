# Shrinks the image before it is generalized: temp folders, the Windows Update download cache,
# event logs and every user's temp folder. Best effort: a file in use is skipped, not fatal.
$ErrorActionPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'

# Image Builder runs each step from packer-* and script-* files in the Windows temp folder,
# including this one: those stay.
$builderFiles = @('packer-*', 'script-*')

function Clear-Folder {
    param([Parameter(Mandatory)][string] $Path, [string[]] $Keep = @())
    if (-not (Test-Path -Path $Path)) {
        return
    }
    Get-ChildItem -Path $Path -Force -ErrorAction SilentlyContinue |
        Where-Object { $item = $_.Name; -not ($Keep | Where-Object { $item -like $_ }) } |
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue
}

Write-Output 'Clearing temp folders'
Clear-Folder -Path (Join-Path $env:SystemDrive 'Temp')
Clear-Folder -Path (Join-Path $env:SystemRoot 'Temp') -Keep $builderFiles

Write-Output 'Clearing the Windows Update download cache'
Stop-Service -Name wuauserv -Force -ErrorAction SilentlyContinue
Clear-Folder -Path (Join-Path $env:SystemRoot 'SoftwareDistribution\Download')
Start-Service -Name wuauserv -ErrorAction SilentlyContinue

Write-Output 'Clearing user temp folders'
Get-ChildItem -Path (Join-Path $env:SystemDrive 'Users') -Directory -Force -ErrorAction SilentlyContinue |
    ForEach-Object { Clear-Folder -Path (Join-Path $_.FullName 'AppData\Local\Temp') -Keep $builderFiles }

Write-Output 'Clearing event logs'
foreach ($log in (wevtutil.exe enum-logs)) {
    wevtutil.exe clear-log "$log" 2>$null
}

# Some logs cannot be cleared (wevtutil exits non-zero); that must not become this step's result.
exit 0
