BeforeAll { . (Join-Path $PSScriptRoot 'Common.ps1') }
AfterAll { Remove-TestStore }

Describe 'New-SyncTask' {
    It 'creates a task and returns it as Sync.SyncTask' {
        $task = New-SyncTask -Name 'pester-new-1' -Source $OfflineSource -Destination $OfflineDestination -Description 'first'
        $task | Should -BeOfType ([Sync.SyncTask])
        $task.Status | Should -Be 'Created'
        $task.Mode | Should -Be 'FullIncremental'
        $task.Source.HasPassword | Should -BeTrue
    }

    It 'takes connection strings and URIs for the endpoints' {
        $task = New-SyncTask -Name 'pester-new-2' -Source 'Host=127.0.0.1;Port=1;Database=a;Username=sync' -SourceCredential $Credential `
            -Destination 'postgresql://sync@127.0.0.1:1/b' -Mode Full
        $task.Source.Database | Should -Be 'a'
        $task.Destination.Database | Should -Be 'b'
        $task.Mode | Should -Be 'Full'
    }

    It 'keeps options, mapping, filters and tags' {
        $task = New-SyncTask -Name 'pester-new-3' -Source $OfflineSource -Destination $OfflineDestination `
            -Table 'sales.order*' -TableMapping @{ 'sales.orders' = 'archive.orders' } -RowFilter @{ 'sales.orders' = "region = 'eu'" } `
            -RowsPerSecond 5000 -FlowWindow '22:00-06:00' -Tag @{ env = 'prod' } -ConflictPolicy Overwrite -StreamFormat Text
        $task.IncludeTables | Should -Be @('sales.order*')
        $task.StreamFormat | Should -Be 'Text'
        $task.RowsPerSecondLimit | Should -Be 5000
        $task.FlowWindows | Should -Be @('22:00-06:00')
        $task.Tags['env'] | Should -Be 'prod'
        $task.ConflictPolicy | Should -Be 'Overwrite'
    }

    It 'refuses an invalid name with the rule and creates nothing' {
        { New-SyncTask -Name 'x' -Source $OfflineSource -Destination $OfflineDestination -ErrorAction Stop } |
            Should -Throw -ErrorId 'TaskDefinitionInvalid,Sync.PowerShell.Commands.NewSyncTaskCommand'
        Get-SyncTask -Name 'x' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'refuses a duplicate name' {
        { New-SyncTask -Name 'PESTER-NEW-1' -Source $OfflineSource -Destination $OfflineDestination -ErrorAction Stop } |
            Should -Throw -ErrorId 'SyncTaskAlreadyExists,Sync.PowerShell.Commands.NewSyncTaskCommand'
    }

    It 'changes nothing under -WhatIf' {
        New-SyncTask -Name 'pester-new-whatif' -Source $OfflineSource -Destination $OfflineDestination -WhatIf
        Get-SyncTask -Name 'pester-new-whatif' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'never writes the password in plain text' {
        Get-ChildItem $env:SYNC_HOME -Recurse -File | Select-String -SimpleMatch $PlainPassword | Should -BeNullOrEmpty
        ($OfflineSource | Out-String) | Should -Not -Match ([regex]::Escape($PlainPassword))
    }
}
