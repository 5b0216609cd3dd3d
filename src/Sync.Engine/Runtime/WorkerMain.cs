using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Sync.Engine.Diagnostics;
using Sync.Engine.Store;

namespace Sync.Engine.Runtime;

/// <summary>
/// The entry point of a worker process, shared by Sync.Worker and the PowerShell worker (pwsh importing the
/// module). The task and store come from the arguments or from SYNC_WORKER_TASK and SYNC_HOME.
/// </summary>
public static partial class WorkerMain
{
    public static async Task<int> RunAsync(string[] args)
    {
        var task = Environment.GetEnvironmentVariable(WorkerLaunchSpec.TaskVariable);
        string? storeRoot = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--task" when i + 1 < args.Length: task = args[++i]; break;
                case "--store" when i + 1 < args.Length: storeRoot = args[++i]; break;
                default:
                    await Console.Error.WriteLineAsync($"Sync worker: unknown argument '{args[i]}'. Usage: Sync.Worker [--task NAME] [--store PATH]").ConfigureAwait(false);
                    return WorkerExitCode.BadArguments;
            }
        }
        if (string.IsNullOrWhiteSpace(task))
        {
            await Console.Error.WriteLineAsync($"Sync worker: no task given. Pass --task NAME or set {WorkerLaunchSpec.TaskVariable}.").ConfigureAwait(false);
            return WorkerExitCode.BadArguments;
        }

        using var loggers = new SingleProviderLoggerFactory(new StreamLoggerProvider(Console.Error));
        using var stop = new CancellationTokenSource();
        using var sigterm = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; stop.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            var store = new FileTaskStore(storeRoot ?? FileTaskStore.DefaultRoot());
            var host = new WorkerHost(store, TaskRunner.For, loggers);
            return await host.RunAsync(task, stop.Token).ConfigureAwait(false);
        }
        catch (SyncException e)
        {
            loggers.CreateLogger("Sync.Worker").LogError(e, "The worker could not run task {Task}", task);
            return WorkerExitCode.TaskUnreadable;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            using var self = System.Diagnostics.Process.GetCurrentProcess();
            LogRuntime(loggers.CreateLogger("Sync.Worker"), task, self.TotalProcessorTime.TotalSeconds,
                System.Runtime.JitInfo.GetCompilationTime().TotalSeconds, System.Runtime.JitInfo.GetCompiledMethodCount(), GC.CollectionCount(0));
        }
    }

    // What the process cost, for telling start-up (compiling) from streaming when a worker's CPU is measured. The JIT's
    // time is summed over the threads that compiled, waits included, so with background recompiles it can exceed the CPU.
    [LoggerMessage(EventId = 110, Level = LogLevel.Information,
        Message = "Worker of task {TaskName} used {CpuSeconds:0.00} s of CPU; the JIT ran for {JitSeconds:0.00} s ({Methods} methods); {Collections} young-generation collections")]
    private static partial void LogRuntime(ILogger logger, string taskName, double cpuSeconds, double jitSeconds, long methods, int collections);
}
