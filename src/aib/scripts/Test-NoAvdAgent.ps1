# Fails the build when the AVD agent or its boot loader is in the image. The agent is installed
# when a host registers with its host pool; baked in, every host starts with a stale registration.
# $AvdAgentServices, $AvdAgentRegistryKeys, $AvdAgentProductNames and $AvdAgentInstallerPatterns
# are defined by the generated lines before this script.
$ErrorActionPreference = 'Stop'
$findings = New-Object System.Collections.Generic.List[string]

foreach ($service in $AvdAgentServices) {
    if (Get-Service -Name $service -ErrorAction SilentlyContinue) {
        $findings.Add("service $service is installed")
    }
}

foreach ($key in $AvdAgentRegistryKeys) {
    if (Test-Path -Path $key) {
        $findings.Add("registry key $key exists")
    }
}

$uninstallKeys = @(
    'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*',
    'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*'
)
foreach ($product in (Get-ItemProperty -Path $uninstallKeys -ErrorAction SilentlyContinue)) {
    $displayName = $product.DisplayName
    if ($displayName -and ($AvdAgentProductNames | Where-Object { $displayName -like $_ })) {
        $findings.Add("program '$displayName' is installed")
    }
}

# Installers left where build scripts usually download them.
$searchRoots = @(
    (Join-Path $env:SystemDrive 'Temp'),
    (Join-Path $env:SystemRoot 'Temp'),
    (Join-Path $env:SystemDrive 'Users')
)
foreach ($pattern in $AvdAgentInstallerPatterns) {
    Get-ChildItem -Path "$env:SystemDrive\" -Filter $pattern -File -Force -ErrorAction SilentlyContinue |
        ForEach-Object { $findings.Add("installer $($_.FullName) is present") }
    foreach ($root in $searchRoots) {
        Get-ChildItem -Path $root -Filter $pattern -File -Recurse -Depth 4 -Force -ErrorAction SilentlyContinue |
            ForEach-Object { $findings.Add("installer $($_.FullName) is present") }
    }
}

if ($findings.Count -gt 0) {
    Write-Output 'The image must not contain the AVD agent (it is installed when a host registers):'
    $findings | ForEach-Object { Write-Output "  - $_" }
    exit 1
}
Write-Output 'No AVD agent, boot loader or agent installer found'
exit 0
