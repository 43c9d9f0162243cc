# Writes what the image contains into the build log, for the version's release notes: the OS
# build, installed hotfixes and Windows Update history, installed applications (the registry's
# Uninstall keys), Chocolatey packages and PowerShell modules. Reads only; never fails the build.
#
# The JSON goes out base64-encoded in short numbered lines between a begin and an end line, so
# Packer's line prefixes and any console wrapping cannot corrupt it; the end line carries the
# line count and the SHA-256 of the JSON, so a truncated or mangled block is detected
# (src/lifecycle/inventory.ts reads it back). The marker is assembled at run time so this
# script's own text, if Image Builder echoes it, never reads as a block.
$ErrorActionPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'

$errors = New-Object System.Collections.Generic.List[string]

function Invoke-Section {
    param([Parameter(Mandatory)][string] $Name, [Parameter(Mandatory)][scriptblock] $Body)
    try {
        return (& $Body)
    } catch {
        $errors.Add("${Name}: $($_.Exception.Message)")
        return @()
    }
}

$os = Invoke-Section -Name 'os' -Body {
    $cv = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
    # The registry's ProductName still says "Windows 10" on Windows 11; the OS caption does not.
    [ordered]@{
        productName    = [string](Get-CimInstance -ClassName Win32_OperatingSystem).Caption
        editionId      = [string]$cv.EditionID
        displayVersion = [string]$cv.DisplayVersion
        currentBuild   = [string]$cv.CurrentBuild
        ubr            = [int]$cv.UBR
    }
}

$hotfixes = @(Invoke-Section -Name 'hotfixes' -Body {
    Get-HotFix | ForEach-Object {
        [ordered]@{
            id          = [string]$_.HotFixID
            description = [string]$_.Description
            installedOn = if ($_.InstalledOn) { $_.InstalledOn.ToString('yyyy-MM-dd') } else { '' }
        }
    }
})

# Windows Update history: Get-HotFix misses updates that are not QFEs (Defender, .NET, drivers).
$updates = @(Invoke-Section -Name 'updateHistory' -Body {
    $searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher()
    $count = $searcher.GetTotalHistoryCount()
    if ($count -gt 0) {
        $resultNames = @{ 0 = 'NotStarted'; 1 = 'InProgress'; 2 = 'Succeeded'; 3 = 'SucceededWithErrors'; 4 = 'Failed'; 5 = 'Aborted' }
        $searcher.QueryHistory(0, $count) | Where-Object { $_.Title } | ForEach-Object {
            [ordered]@{
                title  = [string]$_.Title
                date   = $_.Date.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
                result = [string]$resultNames[[int]$_.ResultCode]
            }
        }
    }
})

$applications = @(Invoke-Section -Name 'applications' -Body {
    $keys = @(
        'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*',
        'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*'
    )
    Get-ItemProperty -Path $keys -ErrorAction SilentlyContinue |
        Where-Object { $_.DisplayName -and $_.SystemComponent -ne 1 } |
        Sort-Object -Property DisplayName, DisplayVersion -Unique |
        ForEach-Object {
            [ordered]@{
                name      = [string]$_.DisplayName
                version   = [string]$_.DisplayVersion
                publisher = [string]$_.Publisher
            }
        }
})

$chocolatey = @(Invoke-Section -Name 'chocolatey' -Body {
    # On PATH once installed; the install folder as well, in case this session's PATH predates it.
    $choco = (Get-Command -Name choco.exe -ErrorAction SilentlyContinue).Source
    if (-not $choco -and $env:ChocolateyInstall) {
        $candidate = Join-Path $env:ChocolateyInstall 'bin\choco.exe'
        if (Test-Path -Path $candidate) {
            $choco = $candidate
        }
    }
    if ($choco) {
        # Chocolatey 2 lists local packages by default; 1.x needs --local-only (removed in 2).
        $major = [int](((& $choco --version) -split '\.')[0])
        $listArgs = @('list', '--limit-output')
        if ($major -lt 2) {
            $listArgs += '--local-only'
        }
        & $choco @listArgs | Where-Object { $_ -match '^[^|]+\|[^|]+$' } | ForEach-Object {
            $parts = $_ -split '\|'
            [ordered]@{ name = $parts[0]; version = $parts[1] }
        }
    }
})

$modules = @(Invoke-Section -Name 'powershellModules' -Body {
    Get-Module -ListAvailable |
        Sort-Object -Property Name, Version -Unique |
        ForEach-Object { [ordered]@{ name = [string]$_.Name; version = [string]$_.Version } }
})

$inventory = [ordered]@{
    schema            = 1
    collectedAt       = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
    os                = $os
    hotfixes          = $hotfixes
    updateHistory     = $updates
    applications      = $applications
    chocolatey        = $chocolatey
    powershellModules = $modules
    errors            = @($errors)
}

$json = ConvertTo-Json -InputObject $inventory -Depth 5 -Compress
$bytes = [System.Text.Encoding]::UTF8.GetBytes($json)
$sha = [System.Security.Cryptography.SHA256]::Create()
$digest = -join ($sha.ComputeHash($bytes) | ForEach-Object { $_.ToString('x2') })
$encoded = [System.Convert]::ToBase64String($bytes)
$chunk = 76
$lines = [int][math]::Ceiling($encoded.Length / $chunk)
$marker = 'AVD-IMAGE' + '-INVENTORY'
Write-Output "$marker-BEGIN 1"
for ($i = 0; $i -lt $lines; $i++) {
    $part = $encoded.Substring($i * $chunk, [math]::Min($chunk, $encoded.Length - $i * $chunk))
    Write-Output ('{0} {1:d5} {2}' -f $marker, $i, $part)
}
Write-Output "$marker-END $lines $digest"
exit 0
