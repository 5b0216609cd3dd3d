# What an admin does when a task is in trouble or its scope changes: copy tables again, add and remove tables on a
# running task, read per-table progress, reset after the slot was lost. Needs PostgreSQL server binaries.
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
}
AfterAll {
    Get-SyncTask -ErrorAction SilentlyContinue | Remove-SyncTask -Force -Confirm:$false -ErrorAction SilentlyContinue
    Stop-TestCluster $Source
    Stop-TestCluster $Destination
    Remove-TestStore
}

Describe 'Operations on a running FullIncremental task' -Skip:(-not (Find-PostgresBin)) {
    BeforeAll {
        if ($Source) {
            New-SyncTask -Name 'pester-ops' -Source $Src -Destination $Dst -Mode FullIncremental -Table 'public.orders' | Out-Null
            Start-SyncTask -Name 'pester-ops' -Wait -Until FullSyncComplete -Timeout 300 | Out-Null
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
        $deadline = (Get-Date).AddSeconds(120)
        while ((Get-SyncTaskTable -Name 'pester-ops').PendingCopy -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 500 }
        Wait-SyncTask -Name 'pester-ops' -Until CaughtUp -MaxLatency 5 -Timeout 120 | Out-Null
        (Compare-SyncTask -Name 'pester-ops').Result | Should -Be 'Equal'
    }

    It 'adds a table without a restart' {
        Set-SyncTask -Name 'pester-ops' -AddTable 'public.invoices'
        Invoke-TestSql $Source 'ops' 'INSERT INTO invoices VALUES (3001, 1)'
        $deadline = (Get-Date).AddSeconds(120)
        while (-not (Get-SyncTaskTable -Name 'pester-ops' -Table invoices | Where-Object { $_.State -eq 'Copied' -and -not $_.PendingCopy }) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 500 }
        Start-Sleep -Seconds 5
        Invoke-TestSql $Destination 'ops' 'SELECT count(*) FROM invoices' | Should -Be '3001'
    }

    It 'removes a table and keeps its rows' {
        Set-SyncTask -Name 'pester-ops' -RemoveTable 'public.invoices'
        Start-Sleep -Seconds 5
        Invoke-TestSql $Source 'ops' 'INSERT INTO invoices VALUES (3002, 1)'
        Start-Sleep -Seconds 5
        Invoke-TestSql $Destination 'ops' 'SELECT count(*) FROM invoices' | Should -Be '3001'
        Get-SyncTaskTable -Name 'pester-ops' -Table invoices | Should -BeNullOrEmpty
    }

    It 'is reset after a pause, with -WhatIf first' {
        Suspend-SyncTask -Name 'pester-ops' | Out-Null
        Reset-SyncTask -Name 'pester-ops' -ClearDestination -WhatIf
        Invoke-TestSql $Destination 'ops' 'SELECT count(*) FROM orders' | Should -Not -Be '0'
        (Reset-SyncTask -Name 'pester-ops' -ClearDestination -Confirm:$false).Status | Should -Be 'Created'
        Invoke-TestSql $Destination 'ops' 'SELECT count(*) FROM orders' | Should -Be '0'
        Invoke-TestSql $Destination 'ops' 'SELECT count(*) FROM invoices' | Should -Be '3001'
        Start-SyncTask -Name 'pester-ops' -Wait -Until FullSyncComplete -Timeout 300 | Out-Null
        (Compare-SyncTask -Name 'pester-ops').Result | Should -Be 'Equal'
    }

    It 'refuses to reset a running task and names its status' {
        { Reset-SyncTask -Name 'pester-ops' -Confirm:$false -ErrorAction Stop } | Should -Throw '*Running*'
    }
}
