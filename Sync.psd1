@{
    RootModule           = 'Sync.PowerShell.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '6f1c2a7e-3b5d-4e8f-9a0b-2c4d6e8f1a3b'
    Author               = 'Sync developers'
    CompanyName          = 'Sync'
    Copyright            = '(c) Sync developers. All rights reserved.'
    Description          = 'PostgreSQL data synchronization tasks: prechecks, schema migration, a consistent parallel snapshot copy and real-time streaming through logical decoding, with persisted checkpoints, from PowerShell.'
    CompatiblePSEditions = @('Core')
    PowerShellVersion    = '7.4'
    FormatsToProcess     = @('Sync.Format.ps1xml')
    CmdletsToExport      = @(
        'Compare-SyncTask'
        'Get-SyncTask'
        'Get-SyncTaskEvent'
        'Get-SyncTaskTable'
        'New-SyncEndpoint'
        'New-SyncTask'
        'Remove-SyncTask'
        'Reset-SyncTask'
        'Restart-SyncTask'
        'Resume-SyncTask'
        'Set-SyncTask'
        'Start-SyncTask'
        'Stop-SyncTask'
        'Suspend-SyncTask'
        'Test-SyncTask'
        'Wait-SyncTask'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('PostgreSQL', 'Replication', 'LogicalDecoding', 'Migration', 'CDC', 'DisasterRecovery', 'Sync')
            ReleaseNotes = 'Task store, endpoints with sealed passwords, task definition cmdlets, background worker.'
        }
    }
}
