namespace Sync.Engine.Runtime;

/// <summary>
/// How to start a worker process: the program and its arguments. The task name and store are passed in the
/// environment (SYNC_WORKER_TASK, SYNC_HOME), so no quoting of paths or names is ever needed.
/// From PowerShell the program is pwsh importing the module; without a PowerShell host it is Sync.Worker.
/// </summary>
public sealed record WorkerLaunchSpec(string FileName, IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string>? Environment = null)
{
    public const string TaskVariable = "SYNC_WORKER_TASK";
    public const string StoreVariable = "SYNC_HOME";

    /// <summary>Sync.Worker next to the given assembly folder: the apphost if present, else the dll through dotnet.</summary>
    public static WorkerLaunchSpec ForWorkerAssembly(string workerDll)
    {
        var host = Path.ChangeExtension(workerDll, OperatingSystem.IsWindows() ? ".exe" : null);
        if (File.Exists(host)) return new WorkerLaunchSpec(host, []);
        return new WorkerLaunchSpec(DotnetHost(), [workerDll]);
    }

    /// <summary>
    /// A worker named by path: a Sync.Worker.dll (as <see cref="ForWorkerAssembly"/>), or an executable worker such as the
    /// natively compiled one, started as it is. For the bench's and the tests' choice of another build.
    /// </summary>
    public static WorkerLaunchSpec ForWorker(string path) =>
        path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? ForWorkerAssembly(path) : new WorkerLaunchSpec(path, []);

    private static string DotnetHost()
    {
        var root = System.Environment.GetEnvironmentVariable("DOTNET_ROOT");
        var name = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        if (!string.IsNullOrEmpty(root) && File.Exists(Path.Combine(root, name))) return Path.Combine(root, name);
        var current = System.Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet") return current;
        return name;
    }
}
