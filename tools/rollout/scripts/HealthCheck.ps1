<#
.SYNOPSIS
    Health gate probe for an AVD session host (seed image-management section 6), run by
    tools/healthGate.ts through Run Command (RunPowerShellScript) as SYSTEM.
.DESCRIPTION
    Reports facts, not verdicts: the gate compares them with the ring's thresholds, so the
    thresholds live in one place. It must finish in seconds: the gate counts a host whose probe
    runs longer than healthGate.probeTimeoutMinutes as not healthy, and Azure lets one Run Command
    at a time run on a VM, so a hung probe blocks the next one until Azure stops it (90 min).
    Nothing here may prompt (no mandatory parameters, no Read-Host). The last line of output is one JSON object:
    {computerName, domainJoined, entraJoined, services{RDAgent, RDAgentBootLoader, frxsvc},
     cpuPercent, freeMemoryPercent, lastLogon{user, seconds, time} | null, bootTime,
     gpu{vendor, adapters[{name, status, errorCode, driverVersion}], nvidiaSmi} | null}
#>
param(
    # "true" to report the FSLogix service (frxsvc).
    [string] $CheckFslogix = 'true',
    # "true" to measure the most recent logon since the host started.
    [string] $MeasureLogon = 'false',
    # CPU samples (one per second) averaged into cpuPercent.
    [int] $CpuSamples = 5,
    # "nvidia" or "amd" on GPU pools: report the display adapters and, for NVIDIA, nvidia-smi.
    [string] $GpuVendor = ''
)

$ErrorActionPreference = 'Stop'
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$computer = Get-CimInstance -ClassName Win32_ComputerSystem

# Join state: Active Directory from WMI, Microsoft Entra ID from dsregcmd.
$entraJoined = $false
try {
    $dsreg = & "$env:SystemRoot\System32\dsregcmd.exe" /status 2>$null
    $entraJoined = [bool]($dsreg | Select-String -Pattern '^\s*AzureAdJoined\s*:\s*YES' -Quiet)
} catch {
    $entraJoined = $false
}

# Services the AVD agent needs, and FSLogix when the ring uses it.
$serviceNames = @('RDAgent', 'RDAgentBootLoader')
if ($CheckFslogix -eq 'true') { $serviceNames += 'frxsvc' }
$services = [ordered]@{}
foreach ($name in $serviceNames) {
    $svc = Get-Service -Name $name -ErrorAction SilentlyContinue
    $services[$name] = if ($svc) { [string]$svc.Status } else { 'NotInstalled' }
}

# CPU: the average of a few samples, so one spike (a scan starting) does not fail a host.
# Win32_PerfFormattedData is used rather than Get-Counter, whose counter names are localized.
$cpu = @()
for ($i = 0; $i -lt [Math]::Max(1, $CpuSamples); $i++) {
    $cpu += (Get-CimInstance -ClassName Win32_PerfFormattedData_PerfOS_Processor -Filter "Name='_Total'").PercentProcessorTime
    if ($i -lt $CpuSamples - 1) { Start-Sleep -Seconds 1 }
}
$cpuPercent = [Math]::Round(($cpu | Measure-Object -Average).Average, 1)
$freeMemoryPercent = [Math]::Round(100 * $os.FreePhysicalMemory / $os.TotalVisibleMemorySize, 1)

# Login time of the most recent logon since boot: from the User Profile Service receiving
# the logon notification (event 1) to Winlogon's logon notification for the same user
# (System log, event 7001), i.e. profile load, Group Policy and shell start.
$lastLogon = $null
if ($MeasureLogon -eq 'true') {
    $since = $os.LastBootUpTime
    $end = Get-WinEvent -FilterHashtable @{ LogName = 'System'; ProviderName = 'Microsoft-Windows-Winlogon'; Id = 7001; StartTime = $since } -MaxEvents 1 -ErrorAction SilentlyContinue
    if ($end) {
        $sid = [string]$end.Properties[1].Value
        $starts = Get-WinEvent -FilterHashtable @{ LogName = 'Microsoft-Windows-User Profile Service/Operational'; Id = 1; StartTime = $since; EndTime = $end.TimeCreated } -ErrorAction SilentlyContinue
        $start = $starts | Where-Object { [string]$_.UserId -eq $sid } | Select-Object -First 1
        if (-not $start) { $start = $starts | Select-Object -First 1 }
        if ($start) {
            $user = try { (New-Object System.Security.Principal.SecurityIdentifier($sid)).Translate([System.Security.Principal.NTAccount]).Value } catch { $sid }
            $lastLogon = [ordered]@{
                user    = $user
                seconds = [Math]::Round(($end.TimeCreated - $start.TimeCreated).TotalSeconds, 1)
                time    = $end.TimeCreated.ToUniversalTime().ToString('o')
            }
        }
    }
}

# GPU pools: the display adapters Windows sees and whether their driver works. Without its driver
# the GPU shows up as "Microsoft Basic Display Adapter"; a driver that failed to start leaves the
# device with Status "Error" and ConfigManagerErrorCode 43. For NVIDIA, nvidia-smi (installed with
# the GRID driver; Microsoft's verification step) must reach the driver: exit code 0.
$gpu = $null
if ($GpuVendor -ne '') {
    $adapters = @(Get-CimInstance -ClassName Win32_VideoController | ForEach-Object {
        [ordered]@{ name = [string]$_.Name; status = [string]$_.Status; errorCode = [int]$_.ConfigManagerErrorCode; driverVersion = [string]$_.DriverVersion }
    })
    $nvidiaSmi = $null
    if ($GpuVendor -eq 'nvidia') {
        $smi = @("$env:SystemRoot\System32\nvidia-smi.exe", "$env:ProgramFiles\NVIDIA Corporation\NVSMI\nvidia-smi.exe") | Where-Object { Test-Path $_ } | Select-Object -First 1
        if (-not $smi) {
            $nvidiaSmi = 'NotInstalled'
        } else {
            $p = Start-Process -FilePath $smi -NoNewWindow -PassThru -RedirectStandardOutput "$env:TEMP\avd-health-nvidia-smi.txt"
            $null = $p.Handle  # keeps the exit code readable after the process ends
            # A driver in a bad state can leave nvidia-smi hanging; the probe must finish in seconds.
            if ($p.WaitForExit(30000)) { $nvidiaSmi = $p.ExitCode } else { $p.Kill(); $nvidiaSmi = 'TimedOut' }
        }
    }
    $gpu = [ordered]@{ vendor = $GpuVendor; adapters = $adapters; nvidiaSmi = $nvidiaSmi }
}

$report = [ordered]@{
    computerName      = $env:COMPUTERNAME
    domainJoined      = [bool]$computer.PartOfDomain
    entraJoined       = $entraJoined
    services          = $services
    cpuPercent        = $cpuPercent
    freeMemoryPercent = $freeMemoryPercent
    lastLogon         = $lastLogon
    bootTime          = $os.LastBootUpTime.ToUniversalTime().ToString('o')
    gpu               = $gpu
}
$report | ConvertTo-Json -Compress -Depth 5
