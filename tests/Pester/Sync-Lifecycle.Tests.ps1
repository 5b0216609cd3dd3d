# The admin's path from end to end, through the cmdlets: create, precheck, start with progress, follow changes,
# compare, pause and resume, stop, remove. Needs PostgreSQL server binaries; skipped without them.
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
        Invoke-TestSql $Source 'postgres' 'CREATE DATABASE shop'
        Invoke-TestSql $Destination 'postgres' 'CREATE DATABASE shop'
        Invoke-TestSql $Source 'shop' "CREATE TABLE orders (id int PRIMARY KEY, total numeric); INSERT INTO orders SELECT g, g FROM generate_series(1, 10000) g"
        $script:Src = New-SyncEndpoint -HostName 127.0.0.1 -Port $Source.Port -Database shop -Credential $Source.Credential -SslMode Disable
        $script:Dst = New-SyncEndpoint -HostName 127.0.0.1 -Port $Destination.Port -Database shop -Credential $Destination.Credential -SslMode Disable
    }
}
AfterAll {
    Get-SyncTask -ErrorAction SilentlyContinue | Remove-SyncTask -Force -Confirm:$false -ErrorAction SilentlyContinue
    Stop-TestCluster $Source
    Stop-TestCluster $Destination
    Remove-TestStore
}

Describe 'A FullIncremental task from the console' -Skip:(-not $HasPostgres) {
    It 'prechecks at 100% with only warnings' {
        New-SyncTask -Name 'pester-life' -Source $Src -Destination $Dst -Mode FullIncremental | Out-Null
        $report = Test-SyncTask -Name 'pester-life'
        $report.SuccessRate | Should -Be 100
        Test-SyncTask -Name 'pester-life' -Quiet | Should -BeTrue
        (Get-SyncTask -Name 'pester-life').Status | Should -Be 'Ready'
    }

    It 'narrates the engine''s work under -Verbose and -Debug, and only then' {
        $verbose = Test-SyncTask -Name 'pester-life' -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        @(@($verbose.Message) -like 'Task pester-life: prechecks 100%*').Count | Should -Be 1
        $debug = Test-SyncTask -Name 'pester-life' -Debug 5>&1 | Where-Object { $_ -is [System.Management.Automation.DebugRecord] }
        @(@($debug.Message) -like '*precheck SourceConnectivity Passed*').Count | Should -Be 1
        $quiet = Test-SyncTask -Name 'pester-life' 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $quiet | Should -BeNullOrEmpty
    }

    It 'starts in the background and waits for the full copy' {
        $task = Start-SyncTask -Name 'pester-life' -Wait -Until FullSyncComplete -Timeout 300
        $task.Progress | Should -Be 100
        $task.Worker | Should -Be 'Alive'
        Invoke-TestSql $Destination 'shop' 'SELECT count(*) FROM orders' | Should -Be '10000'
    }

    It 'refuses a second start with the worker''s process id' {
        $workerPid = (Get-SyncTask -Name 'pester-life').WorkerProcessId
        { Start-SyncTask -Name 'pester-life' -ErrorAction Stop } | Should -Throw "*$workerPid*"
    }

    It 'streams changes and compares equal' {
        Invoke-TestSql $Source 'shop' "INSERT INTO orders VALUES (10001, 1); UPDATE orders SET total = 0 WHERE id <= 10; DELETE FROM orders WHERE id = 20"
        Wait-SyncTask -Name 'pester-life' -Until CaughtUp -MaxLatency 5 -Timeout 120 | Out-Null
        $deadline = (Get-Date).AddSeconds(60)
        while ((Invoke-TestSql $Destination 'shop' 'SELECT count(*) FROM orders') -ne '10000' -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 200 }
        $comparison = Compare-SyncTask -Name 'pester-life'
        $comparison | Should -BeOfType ([Sync.TableComparison])
        $comparison.Result | Should -Be 'Equal'
    }

    It 'pauses and resumes from its checkpoint' {
        Suspend-SyncTask -Name 'pester-life' -PassThru | Select-Object -ExpandProperty Status | Should -Be 'Paused'
        Invoke-TestSql $Source 'shop' 'INSERT INTO orders VALUES (20000, 2)'
        (Resume-SyncTask -Name 'pester-life').Status | Should -Be 'Running'
        $deadline = (Get-Date).AddSeconds(60)
        while ((Invoke-TestSql $Destination 'shop' 'SELECT count(*) FROM orders WHERE id = 20000') -ne '1' -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 200 }
        Invoke-TestSql $Destination 'shop' 'SELECT count(*) FROM orders WHERE id = 20000' | Should -Be '1'
    }

    It 'logs events that can be filtered' {
        $events = Get-SyncTaskEvent -Name 'pester-life' -Kind StatusChanged
        $events | Should -Not -BeNullOrEmpty
        $events[0] | Should -BeOfType ([Sync.SyncTaskEvent])
    }

    It 'stops by draining, then removes everything it created' {
        (Stop-SyncTask -Name 'pester-life' -PassThru).Status | Should -Be 'Completed'
        Invoke-TestSql $Source 'shop' "SELECT count(*) FROM pg_replication_slots" | Should -Be '0'
        # A wait for a status the ended task will never have fails at once instead of polling until the timeout.
        $clock = [Diagnostics.Stopwatch]::StartNew()
        { Wait-SyncTask -Name 'pester-life' -Status Failed -Timeout 60 -ErrorAction Stop } | Should -Throw -ExpectedMessage '*will not reach status Failed*'
        { Wait-SyncTask -Name 'pester-life' -Status Running -Timeout 60 -ErrorAction Stop } | Should -Throw -ExpectedMessage '*will not reach status Running*'
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 30
        Remove-SyncTask -Name 'pester-life' -Confirm:$false
        Get-SyncTask | Should -BeNullOrEmpty
        Invoke-TestSql $Destination 'shop' "SELECT count(*) FROM pg_replication_origin" | Should -Be '0'
    }

    It 'runs as a job that follows the task' {
        New-SyncTask -Name 'pester-job' -Source $Src -Destination $Dst -Mode Full -ExistingTable Ignore -ConflictPolicy Overwrite | Out-Null
        $job = Start-SyncTask -Name 'pester-job' -AsJob
        $job | Wait-Job -Timeout 300 | Out-Null
        $job.State | Should -Be 'Completed'
        (Receive-Job $job).Status | Should -Be 'Completed'
    }
}
