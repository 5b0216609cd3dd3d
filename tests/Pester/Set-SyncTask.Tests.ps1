BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    New-SyncTask -Name 'pester-set-a' -Source $OfflineSource -Destination $OfflineDestination | Out-Null
    New-SyncTask -Name 'pester-set-b' -Source $OfflineSource -Destination $OfflineDestination | Out-Null
}
AfterAll { Remove-TestStore }

Describe 'Set-SyncTask' {
    It 'changes the options given and keeps the others' {
        $task = Set-SyncTask -Name 'pester-set-a' -Description 'edited' -RowsPerSecond 100 -PassThru
        $task.Description | Should -Be 'edited'
        $task.RowsPerSecondLimit | Should -Be 100
        $task.ConflictPolicy | Should -Be 'Fail'
        $task.StreamFormat | Should -Be 'Auto'
    }

    It 'sets the stream format' {
        (Set-SyncTask -Name 'pester-set-b' -StreamFormat Text -PassThru).StreamFormat | Should -Be 'Text'
        (Set-SyncTask -Name 'pester-set-b' -StreamFormat Auto -PassThru).StreamFormat | Should -Be 'Auto'
    }

    It 'takes tasks from the pipeline' {
        Get-SyncTask -Name 'pester-set-*' | Set-SyncTask -ConflictPolicy Ignore
        (Get-SyncTask -Name 'pester-set-*').ConflictPolicy | Should -Be @('Ignore', 'Ignore')
    }

    It 'names the field and the rule in a validation error' {
        { Set-SyncTask -Name 'pester-set-a' -ConnectionRetryMinutes 30 -OtherRetryMinutes 30 -ErrorAction Stop } |
            Should -Throw -ExpectedMessage '*OtherRetryMinutes*below*'
    }

    It 'changes nothing under -WhatIf' {
        Set-SyncTask -Name 'pester-set-b' -Description 'not applied' -WhatIf
        (Get-SyncTask -Name 'pester-set-b').Description | Should -BeNullOrEmpty
    }
}
