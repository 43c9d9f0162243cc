<#
.SYNOPSIS
    Installs the Azure Virtual Desktop agent and boot loader at registration time and registers this
    session host with its host pool. Idempotent: safe to run again on every model update.

.DESCRIPTION
    Runs from the scale set's Custom Script Extension after the host has joined its directory.
      1. Installs the local health endpoint (HealthEndpoint.ps1) as a SYSTEM scheduled task, so the
         Application Health extension gets an answer from the first minute (Unhealthy until ready).
      2. Skips the rest when the agent is already registered (a re-run after a token renewal).
      3. Re-registers an installed but unregistered agent with the new token.
      4. Otherwise downloads the RD Agent and the RD Agent boot loader from Microsoft, checks their
         Microsoft Authenticode signatures, installs them and waits until the agent has registered.
    The registration token arrives as a parameter from the extension's protected settings; it is
    never written to the log.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string]$RegistrationToken,
    [Parameter(Mandatory = $true)]
    [string]$HealthEndpointScript,
    [ValidateSet('EntraID', 'ActiveDirectory')]
    [string]$JoinType = 'EntraID',
    [switch]$CheckFslogix,
    [ValidateRange(1, 65535)]
    [int]$HealthPort = 8090
)

$ErrorActionPreference = 'Stop'
# Progress rendering slows Invoke-WebRequest down by orders of magnitude in Windows PowerShell.
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

$agentUri = 'https://go.microsoft.com/fwlink/?linkid=2310011'
$bootLoaderUri = 'https://go.microsoft.com/fwlink/?linkid=2311028'
$agentKey = 'HKLM:\SOFTWARE\Microsoft\RDInfraAgent'
$workDir = Join-Path $env:ProgramData 'AvdImageRings'
$logFile = Join-Path $workDir 'Register-SessionHost.log'
$healthScriptPath = Join-Path $workDir 'HealthEndpoint.ps1'
$healthTaskName = 'AvdImageRings-HealthEndpoint'

New-Item -ItemType Directory -Path $workDir -Force | Out-Null

function Write-Log([string]$Message) {
    $line = '{0} {1}' -f (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ'), $Message
    Add-Content -Path $logFile -Value $line
    Write-Output $line
}

function Install-HealthEndpoint {
    Set-Content -Path $healthScriptPath -Value $HealthEndpointScript -Encoding UTF8
    $arguments = "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$healthScriptPath`" -Port $HealthPort -JoinType $JoinType"
    if ($CheckFslogix) { $arguments += ' -CheckFslogix' }
    $action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument $arguments
    $trigger = New-ScheduledTaskTrigger -AtStartup
    $principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
    # No time limit, and restart if the endpoint ever stops: a silent endpoint reads as Unknown health.
    $settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit ([TimeSpan]::Zero) -RestartCount 999 `
        -RestartInterval (New-TimeSpan -Minutes 1) -StartWhenAvailable -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
    $existing = Get-ScheduledTask -TaskName $healthTaskName -ErrorAction SilentlyContinue
    if ($existing -and $existing.State -eq 'Running') { Stop-ScheduledTask -TaskName $healthTaskName }
    Register-ScheduledTask -TaskName $healthTaskName -Action $action -Trigger $trigger -Principal $principal `
        -Settings $settings -Force | Out-Null
    Start-ScheduledTask -TaskName $healthTaskName
    Write-Log "health endpoint task '$healthTaskName' serves http://127.0.0.1:$HealthPort/health"
}

function Test-AgentRegistered {
    $agent = Get-ItemProperty -Path $agentKey -ErrorAction SilentlyContinue
    $bootLoader = Get-Service -Name 'RDAgentBootLoader' -ErrorAction SilentlyContinue
    return ($null -ne $agent -and $agent.IsRegistered -eq 1 -and $null -ne $bootLoader)
}

function Save-Installer([string]$Uri, [string]$Path) {
    for ($attempt = 1; ; $attempt++) {
        try {
            Invoke-WebRequest -Uri $Uri -OutFile $Path -UseBasicParsing
            break
        } catch {
            if ($attempt -ge 5) { throw "downloading $Uri failed after $attempt attempts: $($_.Exception.Message)" }
            Write-Log "downloading $Uri failed (attempt $attempt): $($_.Exception.Message); retrying"
            Start-Sleep -Seconds (15 * $attempt)
        }
    }
    # The links carry no checksum (they always serve the current release), so trust is the publisher's signature.
    $signature = Get-AuthenticodeSignature -FilePath $Path
    if ($signature.Status -ne 'Valid' -or $signature.SignerCertificate.Subject -notmatch 'O=Microsoft Corporation') {
        throw "$Uri did not download a Microsoft-signed installer (signature status: $($signature.Status))"
    }
}

function Install-Msi([string]$Path, [string[]]$Properties) {
    $msiLog = [IO.Path]::ChangeExtension($Path, '.install.log')
    # Warnings and errors only: a verbose MSI log would record the registration token property.
    $arguments = @('/i', "`"$Path`"", '/quiet', '/norestart', '/lwe', "`"$msiLog`"") + $Properties
    for ($attempt = 1; ; $attempt++) {
        $process = Start-Process -FilePath 'msiexec.exe' -ArgumentList $arguments -Wait -PassThru
        switch ($process.ExitCode) {
            0 { return }
            3010 { return }
            1618 {
                # Another installation is running (often Windows Update right after boot).
                if ($attempt -ge 20) { throw "$(Split-Path $Path -Leaf): another installation kept running for 10 minutes" }
                Start-Sleep -Seconds 30
            }
            default { throw "$(Split-Path $Path -Leaf) failed with msiexec exit code $($process.ExitCode); see $msiLog" }
        }
    }
}

function Wait-AgentRegistered([int]$TimeoutMinutes) {
    $deadline = (Get-Date).AddMinutes($TimeoutMinutes)
    while ((Get-Date) -lt $deadline) {
        if (Test-AgentRegistered) { return }
        Start-Sleep -Seconds 10
    }
    throw "the AVD agent did not register within $TimeoutMinutes minutes: check that the registration token has not expired (run pulumi up to renew it) and that the host reaches the AVD service endpoints; agent log: $env:ProgramFiles\Microsoft RDInfra\AgentInstall.txt"
}

Install-HealthEndpoint

if (Test-AgentRegistered) {
    Write-Log 'AVD agent already registered; nothing to do'
    return
}

$bootLoader = Get-Service -Name 'RDAgentBootLoader' -ErrorAction SilentlyContinue
if ((Test-Path $agentKey) -and $null -ne $bootLoader) {
    # Installed but not registered (for example an expired token at first boot): hand it the current token.
    Write-Log 'AVD agent installed but not registered; re-registering with the current token'
    Set-ItemProperty -Path $agentKey -Name 'RegistrationToken' -Value $RegistrationToken
    Set-ItemProperty -Path $agentKey -Name 'IsRegistered' -Value 0 -Type DWord
    Restart-Service -Name 'RDAgentBootLoader'
} else {
    $downloadDir = Join-Path $workDir 'installers'
    New-Item -ItemType Directory -Path $downloadDir -Force | Out-Null
    $agentMsi = Join-Path $downloadDir 'Microsoft.RDInfra.RDAgent.Installer-x64.msi'
    $bootLoaderMsi = Join-Path $downloadDir 'Microsoft.RDInfra.RDAgentBootLoader.Installer-x64.msi'
    Write-Log 'downloading the AVD agent and boot loader'
    Save-Installer -Uri $agentUri -Path $agentMsi
    Save-Installer -Uri $bootLoaderUri -Path $bootLoaderMsi
    Write-Log 'installing the AVD agent'
    Install-Msi -Path $agentMsi -Properties @("REGISTRATIONTOKEN=$RegistrationToken")
    Write-Log 'installing the AVD agent boot loader'
    Install-Msi -Path $bootLoaderMsi -Properties @()
}

Wait-AgentRegistered -TimeoutMinutes 10
Write-Log 'AVD agent registered with the host pool'
