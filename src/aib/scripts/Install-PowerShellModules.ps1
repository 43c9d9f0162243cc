# Installs PowerShell Gallery modules for all users of the image. Safe to run again: a module that
# is already installed is left alone. The generated call at the end names the modules.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

function Install-GalleryModules {
    param([Parameter(Mandatory)][string[]] $Name)

    # Without the NuGet provider, Install-Module asks to install it and the unattended build hangs.
    $nuget = Get-PackageProvider -ListAvailable -Name NuGet -ErrorAction SilentlyContinue |
        Where-Object { $_.Version -ge [version]'2.8.5.201' }
    if (-not $nuget) {
        Write-Output 'Installing the NuGet package provider'
        Install-PackageProvider -Name NuGet -MinimumVersion 2.8.5.201 -Scope AllUsers -Force | Out-Null
    }

    # An untrusted repository makes Install-Module ask for confirmation; trust it for this step only.
    $previousPolicy = (Get-PSRepository -Name PSGallery).InstallationPolicy
    if ($previousPolicy -ne 'Trusted') {
        Set-PSRepository -Name PSGallery -InstallationPolicy Trusted
    }
    try {
        foreach ($module in $Name) {
            if (Get-Module -ListAvailable -Name $module) {
                Write-Output "PowerShell module $module is already installed"
                continue
            }
            Write-Output "Installing PowerShell module $module"
            Install-Module -Name $module -Repository PSGallery -Scope AllUsers -Force -AllowClobber
        }
    }
    finally {
        if ($previousPolicy -ne 'Trusted') {
            Set-PSRepository -Name PSGallery -InstallationPolicy $previousPolicy
        }
    }
}
