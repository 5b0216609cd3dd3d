# What an admin does when a task is in trouble or its scope changes: copy tables again, add and remove tables on a
# running task, read per-table progress, reset after the slot was lost. Needs PostgreSQL server binaries.
# -Skip is evaluated at discovery, before BeforeAll runs: the check needs its own dot-sourcing there.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Sandbox.ps1')
    $HasPostgres = [bool](Find-PostgresBin)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'Sandbox.ps1')
    $script:Source = Start-TestCluster 'src'
    $script:Destination = Start-TestCluster 'dst'
    if ($Source) {
        Invoke-TestSql $Source 'postgres' 'CREATE DATABASE ops'
        Invoke-TestSql $Destination 'postgres' 'CREATE DATABASE ops'
        Invoke-TestSql $Source 'ops' "CREATE TABLE orders (id int PRIMARY KEY, total numeric); INSERT INTO orders SELECT g, g FROM generate_series(1, 5000) g; CREATE TABLE invoices (id int PRIMARY KEY, amount numeric); INSERT INTO invoices SELECT g, g FROM generate_series(1, 3000) g"
        $script:Src = New-SyncEndpoint -HostName 127.0.0.1 -Port $Source.Port -Database ops -Credential $Source.Credential -SslMode Disable
        $script:Dst = New-SyncEndpoint -HostName 127.0.0.1 -Port $Destination.Port -Database ops -Credential $Destination.Credential -SslMode Disable
    }
    function Wait-Until([scriptblock] $Condition, [int] $Seconds, [string] $What) {
        $deadline = (Get-Date).AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ((Get-Date) -gt $deadline) { throw "Timed out after $Seconds s waiting for $What" }
            Start-Sleep -Milliseconds 250
        }
    }

    # A row written on the source now has reached the destination: everything before it has been applied.
    function Wait-Applied([int] $Marker) {
        Invoke-TestSql $Source 'ops' "INSERT INTO orders VALUES ($Marker, 0)"
        Wait-Until { (Invoke-TestSql $Destination 'ops' "SELECT count(*) FROM orders WHERE id = $Marker") -eq '1' } 60 "order $Marker on the destination"
    }
}
AfterAll {
    Get-SyncTask -ErrorAction SilentlyContinue | Remove-SyncTask -Force -Confirm:$false -ErrorAction SilentlyContinue
    Stop-TestCluster $Source
    Stop-TestCluster $Destination
    Remove-TestStore
}

Describe 'Operations on a running FullIncremental task' -Skip:(-not $HasPostgres) {
    BeforeAll {
        if ($Source) {
            New-SyncTask -Name 'pester-ops' -Source $Src -Destination $Dst -Mode FullIncremental -Table 'public.orders' -ErrorAction Stop | Out-Null
            Start-SyncTask -Name 'pester-ops' -Wait -Until FullSyncComplete -Timeout 300 -ErrorAction Stop | Out-Null
        }
    }

    It 'lists its tables with their snapshot position' {
        $tables = Get-SyncTaskTable -Name 'pester-ops'
        $tables | Should -HaveCount 1
        $tables[0] | Should -BeOfType ([Sync.SyncTaskTable])
        $tables[0].State | Should -Be 'Copied'
        $tables[0].SnapshotLsn | Should -Not -BeNullOrEmpty
    }

    It 'says under -WhatIf what copying a table again does, and does nothing' {
        $before = (Get-SyncTaskTable -Name 'pester-ops').SnapshotLsn
        Restart-SyncTask -Name 'pester-ops' -Table orders -WhatIf
        (Get-SyncTaskTable -Name 'pester-ops').SnapshotLsn | Should -Be $before
        (Get-SyncTaskTable -Name 'pester-ops').PendingCopy | Should -BeFalse
    }

    It 'copies a damaged table again while streaming' {
        Invoke-TestSql $Destination 'ops' 'DELETE FROM orders WHERE id <= 100'
        Restart-SyncTask -Name 'pester-ops' -Table orders -Confirm:$false | Out-Null
        Wait-Until { -not (Get-SyncTaskTable -Name 'pester-ops').PendingCopy } 120 'orders to be copied again'
        Wait-Applied 90001
        (Compare-SyncTask -Name 'pester-ops').Result | Should -Be 'Equal'
    }

    It 'adds a table without a restart' {
        Set-SyncTask -Name 'pester-ops' -AddTable 'public.invoices'
        Invoke-TestSql $Source 'ops' 'INSERT INTO invoices VALUES (3001, 1)'
        Wait-Until { Get-SyncTaskTable -Name 'pester-ops' -Table invoices | Where-Object { $_.SnapshotLsn -and -not $_.PendingCopy } } 120 'invoices to join the stream'
        Wait-Until { (Invoke-TestSql $Destination 'ops' 'SELECT count(*) FROM invoices') -eq '3001' } 60 'invoice 3001 on the destination'
        (Compare-SyncTask -Name 'pester-ops' -Table invoices).Result | Should -Be 'Equal'
    }

    It 'removes a table and keeps its rows' {
        Set-SyncTask -Name 'pester-ops' -RemoveTable 'public.invoices'
        # The table leaves Get-SyncTaskTable once the worker has taken it out of the publication.
        Wait-Until { -not (Get-SyncTaskTable -Name 'pester-ops' -Table invoices) } 60 'invoices to leave the task'
        Invoke-TestSql $Source 'ops' 'INSERT INTO invoices VALUES (3002, 1)'
        Wait-Applied 90002
        Invoke-TestSql $Destination 'ops' 'SELECT count(*) FROM invoices' | Should -Be '3001'
    }

    It 'is reset after a pause, with -WhatIf first' {
        Suspend-SyncTask -Name 'pester-ops' | Out-Null
        Reset-SyncTask -Name 'pester-ops' -ClearDestination -WhatIf
        Invoke-TestSql $Destination 'ops' 'SELECT count(*) FROM orders' | Should -Not -Be '0'
        (Reset-SyncTask -Name 'pester-ops' -ClearDestination -Confirm:$false).Status | Should -Be 'Created'
        Invoke-TestSql $Destination 'ops' 'SELECT count(*) FROM orders' | Should -Be '0'
        Invoke-TestSql $Destination 'ops' 'SELECT count(*) FROM invoices' | Should -Be '3001'   # no longer the task's: kept
        Start-SyncTask -Name 'pester-ops' -Wait -Until FullSyncComplete -Timeout 300 | Out-Null
        (Compare-SyncTask -Name 'pester-ops').Result | Should -Be 'Equal'
    }

    It 'refuses to reset a running task and names its status' {
        { Reset-SyncTask -Name 'pester-ops' -Confirm:$false -ErrorAction Stop } | Should -Throw '*Running*'
    }
}
