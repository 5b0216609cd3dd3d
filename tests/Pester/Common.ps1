# Shared setup for the Pester tests: import the built module and give each test file its own task store.
$script:ModulePath = Join-Path $PSScriptRoot '../../out/Sync/Sync.psd1'
if (-not (Test-Path $script:ModulePath)) { throw "Build first (./build.ps1): $script:ModulePath is missing." }
Import-Module $script:ModulePath -Force
$env:SYNC_HOME = Join-Path ([IO.Path]::GetTempPath()) ('sync-pester-' + [guid]::NewGuid().ToString('N'))
$script:PlainPassword = 'Pester-' + [guid]::NewGuid().ToString('N')
$script:Credential = [pscredential]::new('sync', (ConvertTo-SecureString $script:PlainPassword -AsPlainText -Force))
# Nothing listens on port 1: these endpoints are for tests that never connect.
$script:OfflineSource = New-SyncEndpoint -HostName 127.0.0.1 -Port 1 -Database src -Credential $script:Credential
$script:OfflineDestination = New-SyncEndpoint -HostName 127.0.0.1 -Port 1 -Database dst -Credential $script:Credential

function Remove-TestStore {
    if ($env:SYNC_HOME -and (Test-Path $env:SYNC_HOME)) { Remove-Item -Recurse -Force $env:SYNC_HOME }
    Remove-Item Env:SYNC_HOME -ErrorAction SilentlyContinue
}
