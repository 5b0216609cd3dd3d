using Microsoft.Extensions.Logging;
using Sync.Engine.Diagnostics;
using Sync.Engine.Tasks;

namespace Sync.Engine.Runtime;

/// <summary>
/// Drives a task through its stages inside the worker and retries what can be retried: connection failures within
/// the task's connection window, other retriable failures within the shorter window (status Retrying, the last error
/// visible). Each retry resumes from what the destination records as done, exactly as a restart after a crash does.
/// </summary>
public sealed partial class TaskRunner : ITaskRunner
{
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    public static ITaskRunner For(TaskDefinition definition) => new TaskRunner();

    public Task<RunOutcome> RunAsync(TaskRunContext context) => RunWithRetriesAsync(context, RunStagesAsync);

    /// <summary>
    /// Runs <paramref name="attempt"/> until it ends, retrying what can be retried. The window counts from the first
    /// failure of an unbroken series: an attempt that made progress (<see cref="TaskRunContext.NoteProgress"/>)
    /// before it failed starts a new series, so a task that streamed for days after one outage is not failed at
    /// once by the next.
    /// </summary>
    internal static async Task<RunOutcome> RunWithRetriesAsync(TaskRunContext context, Func<TaskRunContext, Task<RunOutcome>> attempt)
    {
        var log = context.Loggers.CreateLogger<TaskRunner>();
        var backoff = InitialBackoff;
        DateTimeOffset? failingSince = null;
        var marksAtFailure = context.ProgressMarks;
        while (true)
        {
            try
            {
                var outcome = await attempt(context).ConfigureAwait(false);
                if (failingSince is not null) context.UpdateState(s => s with { RetryingSince = null });
                return outcome;
            }
            catch (Exception e) when (context.StopRequested != StopMode.Force && ErrorClassifier.Classify(e).Retriable)
            {
                var info = ErrorClassifier.Classify(e, context.TaskName);
                if (context.StopRequested == StopMode.Pause)
                {
                    // The worker was asked to end anyway: a retry would only end again. The checkpoint is on the destination,
                    // so a resume continues from it; the error stays visible. Before, such a failure (say, a connection
                    // lost while the pause was on its way) ended the task as Failed.
                    var at = context.Clock.GetUtcNow();
                    context.UpdateState(s => s with { LastError = ErrorState.From(info, at) });
                    return RunOutcome.Paused($"Paused; its last attempt had ended with an error that a resume retries: {info.Message}");
                }
                if (e.Data.Contains(Apply.ChangeApplier.ReplayRowByRow)) context.ApplyRowByRow = true;
                if ((e.Data[Stream.StreamFormat.TextRestartKey] ?? e.InnerException?.Data[Stream.StreamFormat.TextRestartKey]) is string whyText) context.StreamInText = whyText;
                var now = context.Clock.GetUtcNow();
                if (context.ProgressMarks != marksAtFailure)
                {
                    failingSince = null;
                    backoff = InitialBackoff;
                }
                marksAtFailure = context.ProgressMarks;
                failingSince ??= now;
                var window = TimeSpan.FromMinutes(info.Category == SyncErrorCategory.ConnectionError
                    ? context.Definition.Options.ConnectionRetryMinutes
                    : context.Definition.Options.OtherRetryMinutes);
                if (now - failingSince.Value >= window)
                {
                    LogGaveUp(log, context.TaskName, window.TotalMinutes, info.Message);
                    return RunOutcome.Failed(info with { Message = $"{info.Message} (retried for {window.TotalMinutes:0} minutes, the task's retry window)" });
                }
                context.MarkRecovering();
                context.UpdateState(s => s with { Status = SyncTaskStatus.Retrying, RetryingSince = failingSince, LastError = ErrorState.From(info, now) });
                context.Event(SyncEventKind.Retry, SyncEventLevel.Warning, $"Retrying in {backoff.TotalSeconds:0} s: {info.Message}");
                LogRetry(log, context.TaskName, backoff.TotalSeconds, info.Message);
                if (!await WaitBeforeRetryAsync(context, backoff).ConfigureAwait(false))
                    return RunOutcome.Stopped("Stopped without its drain: the worker's process was asked to end while the stop waited to retry " +
                        $"({info.Message}). The slot keeps the changes; Start-SyncTask resumes, and Stop-SyncTask then drains.");
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                context.UpdateState(s => s with { Status = SyncTaskStatus.Running });
            }
        }
    }

    /// <summary>
    /// The backoff. A pause or a forced stop ends it (the worker exits). A normal stop ends it too, but the task goes on
    /// to its next attempt at once, since a normal stop still has to drain and drop the slot; later waits of that stop
    /// end only with a forced stop, or with the end of the worker's process (false: the run ends without its drain).
    /// </summary>
    private static async Task<bool> WaitBeforeRetryAsync(TaskRunContext context, TimeSpan backoff)
    {
        if (context.StopRequested == StopMode.Stop)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(context.Halt, context.ProcessEnding);
            try { await Task.Delay(backoff, context.Clock, wait.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) when (!context.Halt.IsCancellationRequested) { return false; }
            return true;
        }
        try { await Task.Delay(backoff, context.Clock, context.StopSignal).ConfigureAwait(false); }
        catch (OperationCanceledException) when (context.StopRequested == StopMode.Stop) { }
        return true;
    }

    private static async Task<RunOutcome> RunStagesAsync(TaskRunContext context)
    {
        var task = context.Definition;
        var state = context.Store.ReadState(task.Name);
        if (task.Mode != SyncTaskMode.Incremental && state.Copy?.CompletedAt is null)
        {
            try
            {
                await new FullSync(context).RunAsync(context.StopSignal).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (context.StopSignal.IsCancellationRequested && context.StopRequested is StopMode.Stop or StopMode.Force)
            {
                return await EndUnfinishedAsync(context).ConfigureAwait(false);
            }
        }
        if (task.Mode == SyncTaskMode.Full)
            return RunOutcome.Completed("Full synchronization finished.");
        return await new RealtimeSync(context).RunAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// A stop during the copy of a streaming task ends the task: its slot would otherwise keep WAL on the source for a
    /// task nobody resumes. What could not be dropped is reported.
    /// </summary>
    private static async Task<RunOutcome> EndUnfinishedAsync(TaskRunContext context)
    {
        var task = context.Definition;
        if (task.Mode == SyncTaskMode.Full) return RunOutcome.Stopped("Stopped during the full copy; starting it again resumes the copy.");
        var left = await StreamTeardown.DropAsync(context.Store, task, context.Clock).ConfigureAwait(false);
        return RunOutcome.Stopped(left.Count > 0
            ? "Stopped during the full copy; the replication slot and publication could not be dropped (see LeftOnServers for the SQL). Start-SyncTask resumes the copy, or remove them and run Reset-SyncTask."
            : "Stopped during the full copy; the replication slot and publication were dropped. Reset-SyncTask runs the task again.");
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "Task {TaskName}: retrying in {Seconds} s after {Error}")]
    private static partial void LogRetry(ILogger logger, string taskName, double seconds, string error);

    [LoggerMessage(EventId = 301, Level = LogLevel.Error, Message = "Task {TaskName}: retry window of {Minutes} minutes used up: {Error}")]
    private static partial void LogGaveUp(ILogger logger, string taskName, double minutes, string error);
}
