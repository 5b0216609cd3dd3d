# Throwaway PostgreSQL clusters for the Pester scenarios, like the xunit fixture: initdb into a temp folder, a free
# loopback port, logical WAL, password authentication; as the 'postgres' account when running as root (Linux).

function Find-PostgresBin {
    $initdb = Get-Command initdb -ErrorAction SilentlyContinue
    if ($initdb) {
        $real = (Get-Item $initdb.Source).ResolveLinkTarget($true)
        return Split-Path ($real ? $real.FullName : $initdb.Source)
    }
    Get-ChildItem /usr/lib/postgresql/*/bin/initdb -ErrorAction SilentlyContinue |
        Sort-Object { [int]($_.Directory.Parent.Name) } -Descending | Select-Object -First 1 | ForEach-Object { $_.DirectoryName }
}

function Invoke-AsServerUser([string] $Program, [string[]] $Arguments) {
    $root = $IsLinux -and ((id -u) -eq '0')
    if ($root) { & runuser -u postgres -- $Program @Arguments } else { & $Program @Arguments }
    if ($LASTEXITCODE -ne 0) { throw "$Program $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Start-TestCluster([string] $Label) {
    $bin = Find-PostgresBin
    if (-not $bin) { return $null }
    $folder = Join-Path ([IO.Path]::GetTempPath()) "sync-pester-pg-$Label-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    New-Item -ItemType Directory $folder | Out-Null
    $password = [guid]::NewGuid().ToString('N')
    Set-Content -Path (Join-Path $folder 'pwfile') -Value $password
    if ($IsLinux -and ((id -u) -eq '0')) { chown -R postgres:postgres $folder }
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop()
    $data = Join-Path $folder 'data'
    Invoke-AsServerUser (Join-Path $bin 'initdb') @('-D', $data, '-U', 'postgres', '--pwfile', (Join-Path $folder 'pwfile'), '-E', 'UTF8',
        '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync') | Out-Null
    $conf = @("port = $port", "listen_addresses = '127.0.0.1'", "unix_socket_directories = '$folder'", 'wal_level = logical',
        'max_replication_slots = 20', 'max_wal_senders = 20', 'fsync = off') -join "`n"
    Invoke-AsServerUser 'sh' @('-c', "printf '%s\n' `"$conf`" >> '$data/postgresql.auto.conf'")
    Invoke-AsServerUser (Join-Path $bin 'pg_ctl') @('-D', $data, '-l', (Join-Path $folder 'server.log'), '-w', 'start') | Out-Null
    [pscustomobject]@{ Folder = $folder; Data = $data; Bin = $bin; Port = $port; Password = $password
        Credential = [pscredential]::new('postgres', (ConvertTo-SecureString $password -AsPlainText -Force)) }
}

function Stop-TestCluster($Cluster) {
    if (-not $Cluster) { return }
    try { Invoke-AsServerUser (Join-Path $Cluster.Bin 'pg_ctl') @('-D', $Cluster.Data, '-m', 'immediate', 'stop') | Out-Null } catch { }
    Remove-Item -Recurse -Force $Cluster.Folder -ErrorAction SilentlyContinue
}

function Invoke-TestSql($Cluster, [string] $Database, [string] $Sql) {
    $env:PGPASSWORD = $Cluster.Password
    try { & (Join-Path $Cluster.Bin 'psql') -h 127.0.0.1 -p $Cluster.Port -U postgres -d $Database -v ON_ERROR_STOP=1 -qAtc $Sql }
    finally { Remove-Item Env:PGPASSWORD }
}
