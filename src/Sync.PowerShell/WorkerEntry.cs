namespace Sync.PowerShell;

/// <summary>
/// The worker entry point inside pwsh: Start-SyncTask runs
/// <c>pwsh -NoProfile -NonInteractive -Command "Import-Module $env:SYNC_WORKER_MODULE; exit [Sync.PowerShell.WorkerEntry]::Run()"</c>.
/// Not for interactive use.
/// </summary>
public static class WorkerEntry
{
    public const string ModuleVariable = "SYNC_WORKER_MODULE";

    public static int Run() => Engine.Runtime.WorkerMain.RunAsync([]).GetAwaiter().GetResult();

    /// <summary>How Start-SyncTask launches a worker from this PowerShell: the running pwsh, or pwsh on PATH.</summary>
    internal static Engine.Runtime.WorkerLaunchSpec LaunchSpec(string manifestPath)
    {
        var current = Environment.ProcessPath;
        var pwsh = current is not null && Path.GetFileNameWithoutExtension(current).Equals("pwsh", StringComparison.OrdinalIgnoreCase)
            ? current
            : OperatingSystem.IsWindows() ? "pwsh.exe" : "pwsh";
        return new Engine.Runtime.WorkerLaunchSpec(pwsh,
            ["-NoProfile", "-NonInteractive", "-Command", $"Import-Module $env:{ModuleVariable}; exit [Sync.PowerShell.WorkerEntry]::Run()"],
            new Dictionary<string, string> { [ModuleVariable] = manifestPath });
    }
}
