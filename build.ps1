#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests and demonstrates the Sync module. A thin wrapper over dotnet: every task here has a bash
    equivalent (see README.md and .ci/run).
.EXAMPLE
    ./build.ps1                 # build; the importable module is in out/Sync
.EXAMPLE
    ./build.ps1 -Task Test      # xunit tests against throwaway PostgreSQL servers, then the Pester tests
.EXAMPLE
    ./build.ps1 -Task Demo      # a FullIncremental task between two sandbox servers it starts itself
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Clean')]
    [string] $Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Debug'
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

function Invoke-Dotnet {
    & dotnet @args
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($args -join ' ') failed with exit code $LASTEXITCODE" }
}

switch ($Task) {
    'Clean' {
        Invoke-Dotnet clean Sync.sln -c $Configuration
        Remove-Item -Recurse -Force out -ErrorAction SilentlyContinue
    }
    'Build' {
        Invoke-Dotnet build Sync.sln -c $Configuration
        Write-Host "Module: $(Join-Path $PSScriptRoot 'out/Sync/Sync.psd1')"
    }
    'Demo' {
        Invoke-Dotnet run --project src/Sync.Demo -c $Configuration
    }
    'Test' {
        Invoke-Dotnet test Sync.sln -c $Configuration
        if (Get-Module -ListAvailable Pester | Where-Object Version -GE '5.0') {
            $config = New-PesterConfiguration
            $config.Run.Path = Join-Path $PSScriptRoot 'tests/Pester'
            $config.Run.Exit = $true
            $config.Output.Verbosity = 'Detailed'
            Invoke-Pester -Configuration $config
        }
        else {
            Write-Warning 'Pester 5 is not installed; skipped tests/Pester. Install-Module Pester -MinimumVersion 5.0 to run them.'
        }
    }
}
