# Fails the build when the OS disk is larger than $MaxOsDiskSizeGb (defined by the generated line
# before this script): every session host created from the image gets at least this disk.
$ErrorActionPreference = 'Stop'

$bytesPerGb = 1GB
$systemDriveLetter = $env:SystemDrive.TrimEnd(':')
$disk = Get-Partition -DriveLetter $systemDriveLetter | Get-Disk
$sizeGb = [math]::Round($disk.Size / $bytesPerGb, 1)

if ($disk.Size -gt ($MaxOsDiskSizeGb * $bytesPerGb)) {
    Write-Output "The OS disk is $sizeGb GB; golden images must stay at or under $MaxOsDiskSizeGb GB (image.build.osDiskSizeGb)"
    exit 1
}
Write-Output "The OS disk is $sizeGb GB (limit $MaxOsDiskSizeGb GB)"
exit 0
