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
    private CallerMessageLevel _messageLevel = CallerMessageLevel.Warning;

    protected CancellationToken Cancellation => _cancel.Token;

    protected TaskService Service => _service ??= TaskService.ForCaller(new FileTaskStore(FileTaskStore.DefaultRoot()), ShowEngineMessage, _messageLevel);

    /// <summary>Read on the pipeline thread before any engine work (preferences are runspace state).</summary>
    protected override void BeginProcessing()
    {
        _messageLevel = MessageLevel();
        base.BeginProcessing();
    }

    /// <summary>Engine messages of this call, on the pipeline thread: Debug, Verbose or Warning by their level.</summary>
    private void ShowEngineMessage(CallerMessageLevel level, string message) => OnPipeline(() =>
    {
        switch (level)
        {
            case CallerMessageLevel.Debug: WriteDebug(message); break;
            case CallerMessageLevel.Warning: WriteWarning(message); break;
            default: WriteVerbose(message); break;
        }
    });

    /// <summary>Only what the caller will see is formatted: Debug with -Debug, Verbose with -Verbose, else warnings.</summary>
    private CallerMessageLevel MessageLevel()
    {
        bool Wants(string parameter, string preference) =>
            MyInvocation.BoundParameters.TryGetValue(parameter, out var bound) ? bound is SwitchParameter { IsPresent: true } or true
                : Enum.TryParse<ActionPreference>(GetVariableValue(preference)?.ToString(), ignoreCase: true, out var p) && p != ActionPreference.SilentlyContinue && p != ActionPreference.Ignore;
        return Wants("Debug", "DebugPreference") ? CallerMessageLevel.Debug : Wants("Verbose", "VerbosePreference") ? CallerMessageLevel.Verbose : CallerMessageLevel.Warning;
    }

    protected override void StopProcessing() => _cancel.Cancel();

    /// <summary>Queues an action (WriteProgress, WriteVerbose...) for the pipeline thread; safe from engine threads.</summary>
    protected void OnPipeline(Action action) => _pipelineWork.Enqueue(action);

    /// <summary>Runs engine work on a background thread, doing queued pipeline actions while it runs.</summary>
    protected T RunEngine<T>(Func<CancellationToken, Task<T>> work, Action? eachTick = null)
    {
        var task = Task.Run(() => work(Cancellation));
        try
        {
            // Waiting on the handle, not Task.Wait, so a failure does not skip the messages queued before it.
            while (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(250))
            {
                DrainPipelineWork();
                eachTick?.Invoke();
                if (Cancellation.IsCancellationRequested) break;
            }
        }
        finally
        {
            DrainPipelineWork();
        }
        return task.GetAwaiter().GetResult();
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
