using System.Diagnostics;

namespace Sync.Engine.Runtime;

/// <summary>
/// Starts a worker detached from the caller, so it outlives the console or runbook that started it: on Unix in
/// a session of its own (setsid) with its output appended to the task's worker log; on Windows without a window.
/// </summary>
public static class WorkerLauncher
{
    public static int Launch(WorkerLaunchSpec spec, string taskName, string storeRoot, string logPath, bool streamsOnly = false)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        RotateIfLarge(logPath);
        ProcessStartInfo start;
        if (OperatingSystem.IsWindows())
        {
            start = new ProcessStartInfo(spec.FileName) { UseShellExecute = false, CreateNoWindow = true };
            foreach (var a in spec.Arguments) start.ArgumentList.Add(a);
        }
        else
        {
            // sh starts the worker in the background and prints its pid; the worker is re-parented to init when sh exits.
            start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardOutput = true };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(File.Exists("/usr/bin/setsid") || File.Exists("/bin/setsid")
                ? "setsid \"$@\" </dev/null >>\"$SYNC_WORKER_LOG\" 2>&1 & echo $!"
                : "\"$@\" </dev/null >>\"$SYNC_WORKER_LOG\" 2>&1 & echo $!");
            start.ArgumentList.Add("sync-worker");
            start.ArgumentList.Add(spec.FileName);
            foreach (var a in spec.Arguments) start.ArgumentList.Add(a);
        }
        foreach (var (key, value) in WorkerEnvironment(spec, taskName, storeRoot, logPath, System.Environment.GetEnvironmentVariable, streamsOnly))
            start.Environment[key] = value;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start '{spec.FileName}'.");
        if (OperatingSystem.IsWindows()) return process.Id;
        var pidText = process.StandardOutput.ReadLine();
        process.WaitForExit();
        return int.TryParse(pidText, out var pid) ? pid : 0;
    }

    /// <summary>
    /// For every worker:
    /// <list type="bullet">
    /// <item>Thread-pool threads do not spin after each wake-up: a worker handles a steady trickle of small messages and
    /// round trips, and the spinning cost more CPU than it saved there (docs/benchmarks.md, streaming).</item>
    /// <item>Tiered compilation recompiles a hot method as soon as it has been called 30 times, not after a quiet
    /// 100 ms, which the stream's occasional new methods (reports, heartbeats) keep putting off. In Sync-only bench runs
    /// a live stream cost 83-95 ms of worker CPU per 1000 transactions with it and 103-158 with the delay, and the full
    /// copy was not slower (same-run A/B in each order, docs/benchmarks.md).</item>
    /// </list>
    /// Tiering itself, its profile-guided tier and the collector's default budget stay as they are here, for copying
    /// workers: the full copy ran slower without tiering (the runtime's own precompiled code is then never recompiled
    /// optimized) and with the larger budget.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> RuntimeTuning = new Dictionary<string, string>
    {
        ["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0",
        ["DOTNET_TC_CallCountingDelayMs"] = "0",
    };

    /// <summary>
    /// Added for a worker that only streams:
    /// <list type="bullet">
    /// <item>Tiered compilation without its profile-guided tier (<c>TieredPGO=0</c>): start-up code runs as quickly
    /// compiled (or the runtime's precompiled) code, and a hot method goes straight to optimized code, without the
    /// instrumented step between. A resumed worker began to stream 1.3-1.4 s after its launch, against 2.35 s with
    /// tiering off, which compiled each of its 2,300 start-up methods optimized; with the profile-guided tier its drain
    /// cost 76.6 ms of worker CPU per 1000 transactions, against 52-55 without it (docs/benchmarks.md).</item>
    /// <item>A 64 MB budget for the collector's youngest generation (the default, sized by the CPU cache, was about
    /// 17 MB here). The stream allocates a few small objects per value, and collections were a large part of its CPU:
    /// a resumed worker's catch-up fell from 56-61 to 47-50 ms of worker CPU per 1000 transactions in four runs of six
    /// (57-58 in the other two), for 45-50 MB more peak memory. The runtime reads this budget from the environment only
    /// (its runtimeconfig name does nothing), so a worker started by hand needs the variable. The natively compiled worker
    /// reads it too, and without it collected four times as often (docs/benchmarks.md, ninth session).</item>
    /// </list>
    /// A worker that copies keeps the defaults: in same-run comparisons the full copy ran 7-30% slower without tiering
    /// in every second round (whichever contender ran first), and 5-47% slower with the budget (docs/benchmarks.md).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> StreamingTuning = new Dictionary<string, string>
    {
        ["DOTNET_TieredPGO"] = "0",
        // Hex without "0x": the natively compiled worker's runtime ignores a prefixed value (the managed one reads both).
        ["DOTNET_GCgen0size"] = "4000000",
    };

    /// <summary>The runtime settings a worker gets: <see cref="RuntimeTuning"/>, and <see cref="StreamingTuning"/> for one that only streams.</summary>
    public static IReadOnlyDictionary<string, string> Tuning(bool streamsOnly) =>
        (streamsOnly ? RuntimeTuning.Concat(StreamingTuning) : RuntimeTuning).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    /// <summary>
    /// What the launcher sets in the worker's environment over the caller's (which the worker inherits): the runtime
    /// settings above (<see cref="Tuning"/>; Sync.Worker's runtimeconfig also carries the thread pool's, for a worker
    /// started without the launcher; a worker hosted by pwsh has PowerShell's runtimeconfig), unless the caller has its
    /// own setting, which wins; then the spec's variables and the task's.
    /// </summary>
    internal static Dictionary<string, string> WorkerEnvironment(WorkerLaunchSpec spec, string taskName, string storeRoot, string logPath,
        Func<string, string?> callerVariable, bool streamsOnly = false)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in Tuning(streamsOnly))
            if (string.IsNullOrEmpty(callerVariable(key))) environment[key] = value;
        foreach (var (key, value) in spec.Environment ?? new Dictionary<string, string>()) environment[key] = value;
        environment[WorkerLaunchSpec.TaskVariable] = taskName;
        environment[WorkerLaunchSpec.StoreVariable] = storeRoot;
        environment["SYNC_WORKER_LOG"] = logPath;
        return environment;
    }

    /// <summary>
    /// A worker for this task will stream, not copy: an Incremental task (its tables are never copied), or a
    /// FullIncremental one past its copy with no table waiting to be copied again. Tables added to the selection while
    /// the task was stopped are found only by the worker, which then copies them with the streaming budget.
    /// </summary>
    public static bool StreamsOnly(SyncTaskMode mode, Tasks.TaskState state) =>
        mode == SyncTaskMode.Incremental ||
        (mode == SyncTaskMode.FullIncremental && state.Stage == SyncTaskStage.RealtimeSync && state.PendingBackfill.Count == 0 &&
         !(state.Copy?.Tables.Any(state.AwaitsCopy) ?? false));

    public static string LogPath(string storeRoot, string taskName) => Path.Combine(storeRoot, "logs", taskName + ".log");

    /// <summary>The last lines of a worker log, to explain a worker that died at start.</summary>
    public static string Tail(string logPath, int lines = 15)
    {
        try
        {
            if (!File.Exists(logPath)) return "";
            using var stream = new FileStream(logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var take = (int)Math.Min(stream.Length, 16 * 1024);
            stream.Seek(-take, SeekOrigin.End);
            var buffer = new byte[take];
            stream.ReadExactly(buffer);
            var text = System.Text.Encoding.UTF8.GetString(buffer).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return string.Join(Environment.NewLine, text.TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static void RotateIfLarge(string logPath)
    {
        try
        {
            var info = new FileInfo(logPath);
            if (info.Exists && info.Length > 10 * 1024 * 1024) File.Move(logPath, logPath + ".1", overwrite: true);
        }
        catch (IOException) { }
    }

    public static bool IsProcessAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }
}
