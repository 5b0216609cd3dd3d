BeforeAll { . (Join-Path $PSScriptRoot 'Common.ps1') }
AfterAll { Remove-TestStore }

Describe 'New-SyncEndpoint' {
    It 'builds an endpoint from parts and never shows the password' {
        $endpoint = New-SyncEndpoint -HostName db1 -Port 6432 -Database app -Credential $Credential -SslMode Require
        $endpoint | Should -BeOfType ([Sync.SyncEndpoint])
        "$endpoint" | Should -Be 'sync@db1:6432/app'
        $endpoint.HasPassword | Should -BeTrue
        ($endpoint | Format-List * | Out-String) | Should -Not -Match ([regex]::Escape($PlainPassword))
    }

    It 'reads a connection string' {
        $endpoint = New-SyncEndpoint -ConnectionString 'Host=db2;Database=app;Username=reader;Password=abc'
        $endpoint.HostName | Should -Be 'db2'
        $endpoint.UserName | Should -Be 'reader'
        $endpoint.HasPassword | Should -BeTrue
    }

    It 'explains a connection string it cannot read without repeating it' {
        { New-SyncEndpoint -ConnectionString 'Host=db2;Database=app;Usrname=x;Password=leakme' -ErrorAction Stop } |
            Should -Throw -ErrorId 'EndpointInvalid,*'
        try { New-SyncEndpoint -ConnectionString 'Host=db2;Database=app;Usrname=x;Password=leakme' -ErrorAction Stop } catch { $_.Exception.Message | Should -Not -Match 'leakme' }
    }
}
