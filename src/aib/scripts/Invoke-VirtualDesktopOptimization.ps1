# Runs the Virtual Desktop Optimization Tool (VDOT) from The-Virtual-Desktop-Team's GitHub
# repository. $VdotArchiveUri is defined by the generated line before this script.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

$workDir = Join-Path $env:SystemRoot 'Temp\vdot'
$archive = Join-Path $env:SystemRoot 'Temp\vdot.zip'
Write-Output "Downloading the Virtual Desktop Optimization Tool from $VdotArchiveUri"
Invoke-WebRequest -Uri $VdotArchiveUri -OutFile $archive -UseBasicParsing
Expand-Archive -Path $archive -DestinationPath $workDir -Force
$tool = Get-ChildItem -Path $workDir -Filter 'Windows_VDOT.ps1' -Recurse | Select-Object -First 1
if (-not $tool) {
    throw "Windows_VDOT.ps1 is not in $VdotArchiveUri"
}
Get-ChildItem -Path $tool.Directory.FullName -Recurse | Unblock-File

Push-Location -Path $tool.Directory.FullName
try {
    # VDOT reports components this edition does not have as non-terminating errors; they must not fail the build.
    $ErrorActionPreference = 'Continue'
    & $tool.FullName -Optimizations All -AcceptEULA -Verbose
}
finally {
    Pop-Location
    Remove-Item -Path $workDir, $archive -Recurse -Force -ErrorAction SilentlyContinue
}
# A native command inside VDOT may leave a non-zero $LASTEXITCODE, which would become this step's result.
exit 0
