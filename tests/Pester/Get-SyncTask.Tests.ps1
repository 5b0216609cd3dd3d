BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    New-SyncTask -Name 'pester-get-eu' -Source $OfflineSource -Destination $OfflineDestination -Tag @{ env = 'prod' } | Out-Null
    New-SyncTask -Name 'pester-get-us' -Source $OfflineSource -Destination $OfflineDestination -Tag @{ env = 'test' } | Out-Null
}
AfterAll { Remove-TestStore }

Describe 'Get-SyncTask' {
    It 'lists every task' {
        (Get-SyncTask).Name | Should -Be @('pester-get-eu', 'pester-get-us')
    }

    It 'filters by wildcard, tag and status' {
        (Get-SyncTask -Name '*-eu').Name | Should -Be 'pester-get-eu'
        (Get-SyncTask -Tag 'env=test').Name | Should -Be 'pester-get-us'
        Get-SyncTask -Status Running | Should -BeNullOrEmpty
    }

    It 'finds a task by id' {
        $id = (Get-SyncTask -Name 'pester-get-eu').Id
        (Get-SyncTask -Id $id).Name | Should -Be 'pester-get-eu'
    }

    It 'reports a missing name as SyncTaskNotFound' {
        { Get-SyncTask -Name 'no-such-task' -ErrorAction Stop } | Should -Throw -ErrorId 'SyncTaskNotFound,Sync.PowerShell.Commands.GetSyncTaskCommand'
    }

    It 'formats as a table with Name, Status, Stage, Progress and Latency' {
        $text = Get-SyncTask | Format-Table | Out-String
        $text | Should -Match 'Name\s+Status\s+Stage\s+Progress\s+Latency'
    }

    It 'reports a damaged task and still lists the others' {
        New-SyncTask -Name 'pester-get-bad' -Source $OfflineSource -Destination $OfflineDestination | Out-Null
        Set-Content -Path (Join-Path $env:SYNC_HOME 'tasks/pester-get-bad/state.json') -Value '{'
        $found = Get-SyncTask -ErrorVariable problems -ErrorAction SilentlyContinue
        $found.Name | Should -Be @('pester-get-eu', 'pester-get-us')
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'StoreFileCorrupt,*'
        $problems[0].Exception.Message | Should -Match 'state.json'
    }
}
