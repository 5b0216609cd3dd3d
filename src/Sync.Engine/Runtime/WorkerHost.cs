using Microsoft.Extensions.Logging;
using Sync.Engine.Diagnostics;
using Sync.Engine.Store;
using Sync.Engine.Tasks;

namespace Sync.Engine.Runtime;

/// <summary>
/// The life of a worker process (DESIGN.md, "Worker"): take the task's lease, report itself and a heartbeat
/// in the state, pass the operator's control requests to the runner, record how the run ended, let go.
/// Sync.Worker and the PowerShell worker entry both run this.
/// </summary>
public sealed partial class WorkerHost(ITaskStore store, Func<TaskDefinition, ITaskRunner> runnerFactory, ILoggerFactory loggers, TimeProvider? clock = null)
{
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan ControlPollInterval = TimeSpan.FromMilliseconds(200);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly ILogger _log = loggers.CreateLogger<WorkerHost>();

    /// <param name="taskName">The task to run.</param>
    /// <param name="processStop">Signalled when the process is asked to end (SIGTERM, Ctrl+C): the task pauses.</param>
    public async Task<int> RunAsync(string taskName, CancellationToken processStop)
    {
        var name = store.FindTaskName(taskName);
        if (name is null)
        {
            LogTaskMissing(taskName, store.Location);
            return WorkerExitCode.TaskUnreadable;
        }
        using var lease = store.TryAcquireWorkerLease(name);
        if (lease is null)
        {
            LogAlreadyRunning(name);
            return WorkerExitCode.AlreadyRunning;
        }
        TaskDefinition definition;
        try
        {
            definition = store.ReadDefinition(name);
        }
        catch (SyncException e)
        {
            LogUnreadable(name, e.Message);
            return WorkerExitCode.TaskUnreadable;
        }

        using var context = new TaskRunContext(store, definition, loggers, _clock) { ProcessEnding = processStop };
        var now = _clock.GetUtcNow();
        var worker = new WorkerInfo { ProcessId = Environment.ProcessId, HostName = Environment.MachineName, StartedAt = now, Heartbeat = now };
        var startState = context.UpdateState(s => s with
        {
            Status = SyncTaskStatus.Running, Worker = worker, StartedAt = s.StartedAt ?? now, CompletedAt = null, LastError = null, RetryingSince = null,
            // What a forced stop left is this run's again (it resumes on that slot), not litter to remove.
            LeftOnServers = [],
        });
        context.Event(SyncEventKind.StatusChanged, SyncEventLevel.Information,
            $"Worker {Environment.ProcessId} on {Environment.MachineName} started the task.");
        LogStarted(name, Environment.ProcessId);

        using var processStopRegistration = processStop.Register(() => context.RequestStop(StopMode.Pause));
        using var monitorStop = new CancellationTokenSource();
        var monitor = Task.Run(() => MonitorAsync(context, startState.HandledControlSequence, monitorStop.Token));

        RunOutcome outcome;
        try
        {
            outcome = await runnerFactory(definition).RunAsync(context).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.StopSignal.IsCancellationRequested)
        {
            outcome = context.StopRequested == StopMode.Pause ? RunOutcome.Paused() : RunOutcome.Stopped();
        }
        catch (Exception e) when (context.StopRequested == StopMode.Force)
        {
            // A forced stop abandons the run at once: what failed as it did (a driver call cut short, a connection the
            // retries were waiting for) does not make the task Failed, and the slot is still released below. A failure
            // other than the cancellation itself stays visible as the last error.
            outcome = RunOutcome.Stopped();
            if (!IsCancellation(e))
            {
                var info = ErrorClassifier.Classify(e, name);
                context.UpdateState(s => s with { LastError = ErrorState.From(info, _clock.GetUtcNow()) });
            }
        }
        catch (Exception e)
        {
            outcome = RunOutcome.Failed(ErrorClassifier.Classify(e, name));
            LogRunFailed(e, name);
        }
        if (context.StopRequested == StopMode.Force && outcome.Status == SyncTaskStatus.Stopped && context.Store.ReadState(name).Stream?.SlotName is not null)
        {
            // A forced stop abandons the stream at once; it still tries to release the source.
            var left = await StreamTeardown.DropAsync(context.Store, context.Definition, _clock).ConfigureAwait(false);
            outcome = RunOutcome.Stopped(left.Count > 0
                ? $"Stopped at once; {left.Count} object(s) could not be removed from the source (see LeftOnServers for the SQL). The slot still holds the changes: Start-SyncTask resumes from it, or remove it and run Reset-SyncTask."
                : "Stopped at once; the replication slot and publication were dropped. Reset-SyncTask runs the task again.");
        }
        monitorStop.Cancel();
        try { await monitor.ConfigureAwait(false); } catch (OperationCanceledException) { }

        var end = _clock.GetUtcNow();
        context.UpdateState(s => s with
        {
            Status = outcome.Status,
            Worker = null,
            CompletedAt = outcome.Status is SyncTaskStatus.Completed or SyncTaskStatus.Stopped ? end : s.CompletedAt,
            LastError = outcome.Error is null ? s.LastError : ErrorState.From(outcome.Error, end),
            RetryingSince = null,
        });
        context.Event(SyncEventKind.StatusChanged, outcome.Status == SyncTaskStatus.Failed ? SyncEventLevel.Error : SyncEventLevel.Information,
            outcome.Status switch
            {
                SyncTaskStatus.Failed => $"The task failed: {outcome.Error!.Message}" +
                    (definition.Mode == SyncTaskMode.Full ? "" : " Destination sequences were left as they are: only a normal stop sets them ahead of the source."),
                _ => $"The task is {outcome.Status}." + (outcome.Message is null ? "" : " " + outcome.Message),
            });
        LogEnded(name, outcome.Status);
        return outcome.Status == SyncTaskStatus.Failed ? WorkerExitCode.TaskFailed : WorkerExitCode.Success;
    }

    private static bool IsCancellation(Exception e) =>
        e is OperationCanceledException or Npgsql.PostgresException { SqlState: "57014" } || (e.InnerException is { } inner && IsCancellation(inner));

    private async Task MonitorAsync(TaskRunContext context, long handled, CancellationToken stop)
    {
        var lastBeat = _clock.GetTimestamp();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                handled = HandleControl(context, handled);
                if (_clock.GetElapsedTime(lastBeat) >= HeartbeatInterval)
                {
                    var beat = _clock.GetUtcNow();
                    context.UpdateState(s => s with { Worker = s.Worker is null ? null : s.Worker with { Heartbeat = beat } });
                    lastBeat = _clock.GetTimestamp();
                }
            }
            catch (SyncException e)
            {
                // A locked or momentarily unreadable store must not kill the worker; the next round tries again.
                LogMonitorProblem(context.TaskName, e.Message);
            }
            await Task.Delay(ControlPollInterval, _clock, stop).ConfigureAwait(false);
        }
    }

    private long HandleControl(TaskRunContext context, long handled)
    {
        var pending = context.Store.ReadControl(context.TaskName).Requests.Where(r => r.Sequence > handled).OrderBy(r => r.Sequence).ToArray();
        if (pending.Length == 0) return handled;
        foreach (var request in pending)
        {
            LogControl(context.TaskName, request.Action, request.Sequence);
            switch (request.Action)
            {
                case ControlAction.Stop: context.RequestStop(StopMode.Stop); break;
                case ControlAction.StopForce: context.RequestStop(StopMode.Force); break;
                case ControlAction.Pause: context.RequestStop(StopMode.Pause); break;
                case ControlAction.Reload: context.ReloadDefinition(); break;
            }
            context.Event(SyncEventKind.Operator, SyncEventLevel.Information,
                $"{request.Action} requested by {request.RequestedBy ?? "an operator"} at {request.At:u} was received.");
        }
        var last = pending[^1].Sequence;
        context.UpdateState(s => s with { HandledControlSequence = last });
        context.Store.TrimControlRequests(context.TaskName, last);
        return last;
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Error, Message = "No task named {TaskName} in store {Store}")]
    private partial void LogTaskMissing(string taskName, string store);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Task {TaskName} already has a worker; this one exits")]
    private partial void LogAlreadyRunning(string taskName);

    [LoggerMessage(EventId = 102, Level = LogLevel.Error, Message = "Task {TaskName} cannot be read: {Reason}")]
    private partial void LogUnreadable(string taskName, string reason);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Worker {ProcessId} runs task {TaskName}")]
    private partial void LogStarted(string taskName, int processId);

    [LoggerMessage(EventId = 104, Level = LogLevel.Error, Message = "Task {TaskName} failed")]
    private partial void LogRunFailed(Exception exception, string taskName);

    [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "Task {TaskName} ended with status {Status}")]
    private partial void LogEnded(string taskName, SyncTaskStatus status);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "Task {TaskName}: worker monitor could not reach the store: {Reason}")]
    private partial void LogMonitorProblem(string taskName, string reason);

    [LoggerMessage(EventId = 107, Level = LogLevel.Information, Message = "Task {TaskName}: control request {Action} (#{Sequence})")]
    private partial void LogControl(string taskName, ControlAction action, long sequence);
}
