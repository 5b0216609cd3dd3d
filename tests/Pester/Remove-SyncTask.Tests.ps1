BeforeAll { . (Join-Path $PSScriptRoot 'Common.ps1') }
AfterAll { Remove-TestStore }

Describe 'Remove-SyncTask' {
    BeforeEach {
        New-SyncTask -Name 'pester-rm-1' -Source $OfflineSource -Destination $OfflineDestination | Out-Null
        New-SyncTask -Name 'pester-rm-2' -Source $OfflineSource -Destination $OfflineDestination | Out-Null
    }
    AfterEach { Get-SyncTask | Remove-SyncTask -Force -Confirm:$false }

    It 'changes nothing under -WhatIf' {
        Remove-SyncTask -Name 'pester-rm-1' -WhatIf
        Get-SyncTask -Name 'pester-rm-1' | Should -Not -BeNullOrEmpty
    }

    It 'removes tasks piped from Get-SyncTask' {
        Get-SyncTask -Name 'pester-rm-*' | Remove-SyncTask -Confirm:$false
        Get-SyncTask | Should -BeNullOrEmpty
        Test-Path (Join-Path $env:SYNC_HOME 'tasks/pester-rm-1') | Should -BeFalse
    }

    It 'reports a task that does not exist' {
        { Remove-SyncTask -Name 'pester-rm-none' -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'SyncTaskNotFound,*'
    }
}
