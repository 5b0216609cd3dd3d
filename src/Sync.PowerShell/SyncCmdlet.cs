using System.Collections.Concurrent;
using System.Management.Automation;
using Sync.Engine.Diagnostics;
using Sync.Engine.Store;
using Sync.Engine.Tasks;

namespace Sync.PowerShell;

/// <summary>
/// The common base of every Sync cmdlet: the engine service, Ctrl+C cancellation of engine work
/// (<see cref="StopProcessing"/>), and the one place engine errors become ErrorRecords. Engine work runs on
/// a background thread; only the pipeline thread writes (STYLE.md, "Logging and threads").
/// </summary>
public abstract class SyncCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly ConcurrentQueue<Action> _pipelineWork = new();
    private TaskService? _service;

    protected CancellationToken Cancellation => _cancel.Token;

    protected TaskService Service => _service ??= new TaskService(new FileTaskStore(FileTaskStore.DefaultRoot()));

    protected override void StopProcessing() => _cancel.Cancel();

    /// <summary>Queues an action (WriteProgress, WriteVerbose...) for the pipeline thread; safe from engine threads.</summary>
    protected void OnPipeline(Action action) => _pipelineWork.Enqueue(action);

    /// <summary>Runs engine work on a background thread, doing queued pipeline actions while it runs.</summary>
    protected T RunEngine<T>(Func<CancellationToken, Task<T>> work, Action? eachTick = null)
    {
        var task = Task.Run(() => work(Cancellation));
        try
        {
            while (!task.Wait(250))
            {
                DrainPipelineWork();
                eachTick?.Invoke();
                if (Cancellation.IsCancellationRequested) break;
            }
            DrainPipelineWork();
            return task.GetAwaiter().GetResult();
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            throw;
        }
    }

    protected void RunEngine(Func<CancellationToken, Task> work, Action? eachTick = null) =>
        RunEngine(async ct => { await work(ct).ConfigureAwait(false); return true; }, eachTick);

    private void DrainPipelineWork()
    {
        while (_pipelineWork.TryDequeue(out var action)) action();
    }

    /// <summary>Writes a non-terminating error for one item.</summary>
    protected void WriteSyncError(Exception exception, object? target) => WriteError(ErrorRecords.From(exception, target));

    /// <summary>Stops the cmdlet: for errors after which nothing can proceed.</summary>
    protected void ThrowSyncError(Exception exception, object? target) => ThrowTerminatingError(ErrorRecords.From(exception, target));

    /// <summary>Resolves task names given by the user (wildcards allowed); a plain name that matches nothing is an error.</summary>
    protected IEnumerable<TaskInfo> ResolveTasks(IEnumerable<string> names)
    {
        foreach (var name in names)
        {
            if (Wildcard.HasWildcards(name))
            {
                foreach (var task in Service.Query(new TaskQuery { Names = [name] }, e => WriteSyncError(e, name)))
                    yield return task;
                continue;
            }
            TaskInfo? found = null;
            try { found = Service.Get(name); }
            catch (SyncException e) { WriteSyncError(e, name); }
            if (found is not null) yield return found;
        }
    }

    public void Dispose()
    {
        _cancel.Dispose();
        GC.SuppressFinalize(this);
    }
}
