<#
.SYNOPSIS
    Local health endpoint of an AVD session host, probed by the Application Health extension
    (Rich Health States) so scale-set rolling upgrades and the rollout gate see whether the host
    can really take users.

.DESCRIPTION
    Serves GET /health on 127.0.0.1 and localhost only, answering HTTP 200 with
    {"ApplicationHealthState":"Healthy"} or {"ApplicationHealthState":"Unhealthy"}.
    Healthy means all of:
      - the RDAgentBootLoader service is running,
      - the AVD agent is registered (HKLM:\SOFTWARE\Microsoft\RDInfraAgent IsRegistered = 1),
      - the host is joined (Microsoft Entra ID or Active Directory, as configured),
      - the FSLogix service (frxsvc) is running, when -CheckFslogix is set.
    The names of failed checks are returned in the X-Health-Failures header for troubleshooting.
    Runs as SYSTEM from a scheduled task that Register-SessionHost.ps1 installs.
#>
[CmdletBinding()]
param(
    [ValidateRange(1, 65535)]
    [int]$Port = 8090,
    [ValidateSet('EntraID', 'ActiveDirectory')]
    [string]$JoinType = 'EntraID',
    [switch]$CheckFslogix
)

$ErrorActionPreference = 'Stop'

# dsregcmd takes about a second; the extension probes every few seconds, so results are reused briefly.
$cacheSeconds = 15
$script:cachedAt = [datetime]::MinValue
$script:cachedFailures = @()

function Test-Joined {
    if ($JoinType -eq 'EntraID') {
        $status = & dsregcmd.exe /status 2>$null | Out-String
        return $status -match 'AzureAdJoined\s*:\s*YES'
    }
    return [bool](Get-CimInstance -ClassName Win32_ComputerSystem).PartOfDomain
}

function Test-ServiceRunning([string]$Name) {
    $service = Get-Service -Name $Name -ErrorAction SilentlyContinue
    return ($null -ne $service -and $service.Status -eq 'Running')
}

function Get-HealthFailures {
    $failures = New-Object System.Collections.Generic.List[string]
    if (-not (Test-ServiceRunning 'RDAgentBootLoader')) { $failures.Add('RDAgentBootLoaderNotRunning') }
    $agent = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\RDInfraAgent' -ErrorAction SilentlyContinue
    if ($null -eq $agent -or $agent.IsRegistered -ne 1) { $failures.Add('AgentNotRegistered') }
    try {
        if (-not (Test-Joined)) { $failures.Add("Not${JoinType}Joined") }
    } catch {
        $failures.Add('JoinStateUnknown')
    }
    if ($CheckFslogix -and -not (Test-ServiceRunning 'frxsvc')) { $failures.Add('FslogixNotRunning') }
    return ,$failures.ToArray()
}

function Get-CachedHealthFailures {
    $now = [datetime]::UtcNow
    if (($now - $script:cachedAt).TotalSeconds -ge $cacheSeconds) {
        $script:cachedFailures = Get-HealthFailures
        $script:cachedAt = $now
    }
    return ,$script:cachedFailures
}

function Send-Response($Context, [int]$StatusCode, [string]$Body, [string[]]$Failures) {
    $response = $Context.Response
    $response.StatusCode = $StatusCode
    $response.ContentType = 'application/json'
    if ($Failures.Count -gt 0) { $response.Headers.Add('X-Health-Failures', ($Failures -join ',')) }
    $bytes = [System.Text.Encoding]::UTF8.GetBytes($Body)
    $response.ContentLength64 = $bytes.Length
    $response.OutputStream.Write($bytes, 0, $bytes.Length)
    $response.Close()
}

$listener = New-Object System.Net.HttpListener
# Loopback host names only: the extension probes locally and nothing else needs this endpoint.
$listener.Prefixes.Add("http://127.0.0.1:$Port/")
$listener.Prefixes.Add("http://localhost:$Port/")
$listener.Start()
try {
    while ($listener.IsListening) {
        $context = $listener.GetContext()
        try {
            if ($context.Request.HttpMethod -ne 'GET' -or $context.Request.Url.AbsolutePath.TrimEnd('/') -ne '/health') {
                Send-Response $context 404 '{"error":"not found"}' @()
                continue
            }
            $failures = Get-CachedHealthFailures
            $state = if ($failures.Count -eq 0) { 'Healthy' } else { 'Unhealthy' }
            Send-Response $context 200 (ConvertTo-Json @{ ApplicationHealthState = $state } -Compress) $failures
        } catch {
            # One bad request must not stop the endpoint; a missing answer reads as Unknown to the extension.
            try { $context.Response.Abort() } catch { }
        }
    }
} finally {
    $listener.Close()
}
