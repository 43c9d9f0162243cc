# Fails the build when the GPU driver on the GPU build VM is not working. An image built on a GPU
# size ($GpuVendor, "nvidia" or "amd", defined by the generated line before this script) is built
# there to bake the vendor's driver in (docs/gpu.md); if its install step failed quietly, every
# host of the image would render on the CPU. Runs after the customizers and their restart.
$ErrorActionPreference = 'Stop'

$pattern = if ($GpuVendor -eq 'nvidia') { '\bNVIDIA\b' } else { '\b(AMD|Radeon)\b' }
$adapters = @(Get-CimInstance -ClassName Win32_VideoController)
$ours = @($adapters | Where-Object { $_.Name -match $pattern })
if ($ours.Count -eq 0) {
    Write-Output "No $GpuVendor display adapter: Windows shows $(($adapters | ForEach-Object { $_.Name }) -join ', '); the GPU driver is not installed"
    exit 1
}
$working = @($ours | Where-Object { $_.Status -eq 'OK' -and $_.ConfigManagerErrorCode -eq 0 })
if ($working.Count -eq 0) {
    $adapter = $ours[0]
    Write-Output "$($adapter.Name): status $($adapter.Status), device error code $($adapter.ConfigManagerErrorCode); the GPU driver is not working"
    exit 1
}
if ($GpuVendor -eq 'nvidia') {
    # nvidia-smi comes with the GRID driver and must reach it (Microsoft's verification step).
    $smi = @("$env:SystemRoot\System32\nvidia-smi.exe", "$env:ProgramFiles\NVIDIA Corporation\NVSMI\nvidia-smi.exe") | Where-Object { Test-Path $_ } | Select-Object -First 1
    if (-not $smi) {
        Write-Output 'nvidia-smi not found: the NVIDIA GRID driver is not installed'
        exit 1
    }
    $p = Start-Process -FilePath $smi -NoNewWindow -PassThru
    $null = $p.Handle
    if (-not $p.WaitForExit(60000)) {
        $p.Kill()
        Write-Output 'nvidia-smi did not finish within 60 s: the NVIDIA driver is not responding'
        exit 1
    }
    if ($p.ExitCode -ne 0) {
        Write-Output "nvidia-smi exited with code $($p.ExitCode): the NVIDIA driver is not loaded"
        exit 1
    }
}
Write-Output "GPU driver loaded: $(($working | ForEach-Object { "$($_.Name) $($_.DriverVersion)" }) -join ', ')"
exit 0
