namespace Sync.Engine.Tasks;

/// <summary>What a wait is for: a condition (-Until), a stage reached (or passed), or a status.</summary>
public sealed record WaitTarget
{
    public WaitCondition? Condition { get; init; }
    public SyncTaskStage? Stage { get; init; }
    public SyncTaskStatus? Status { get; init; }
    /// <summary>For <see cref="WaitCondition.CaughtUp"/>: the latency that counts as caught up.</summary>
    public TimeSpan LatencyBound { get; init; } = TimeSpan.FromSeconds(1);

    public static WaitTarget For(WaitCondition condition, TimeSpan latencyBound) => new() { Condition = condition, LatencyBound = latencyBound };

    /// <summary>Where a wait stands on one look at the task.</summary>
    public enum Verdict { Pending, Reached, Unreachable }

    /// <summary>
    /// Whether the task is where this target asks for, may still get there, or will not: a failed task reaches nothing
    /// but status Failed; a task no worker runs (stopped, paused, completed, or its worker died) reaches no status a
    /// worker sets while it runs (Running, Retrying, Stopping), and ends any wait it has not reached.
    /// </summary>
    public Verdict Judge(TaskInfo task, DateTimeOffset now)
    {
        var state = task.State;
        // Starting with no worker yet: a launch in progress, unless it is older than any launch takes (a launcher that
        // died between setting Starting and the worker taking the task).
        var launching = state.Status is SyncTaskStatus.Starting && now - state.UpdatedAt < StaleStart;
        var ended = !task.IsRunning && !launching;
        if (Status == SyncTaskStatus.Failed)
            return state.Status == SyncTaskStatus.Failed ? Verdict.Reached : ended ? Verdict.Unreachable : Verdict.Pending;
        if (state.Status == SyncTaskStatus.Failed) return Verdict.Unreachable;
        var reached = Stage is { } stage ? state.Stage >= stage
            : Status is { } status ? state.Status == status && !(ended && NeedsWorker(status))
            : Condition switch
            {
                WaitCondition.FullSyncComplete => state.Copy?.CompletedAt is not null || (task.Definition.Mode == SyncTaskMode.Incremental && state.Stage == SyncTaskStage.RealtimeSync),
                WaitCondition.CaughtUp => !ended && state.Stage == SyncTaskStage.RealtimeSync && state.Stream?.LatencySeconds is { } l && l <= LatencyBound.TotalSeconds,
                _ => ended,
            };
        return reached ? Verdict.Reached : ended ? Verdict.Unreachable : Verdict.Pending;
    }

    /// <summary>How long a Starting status without a worker counts as a launch in progress (twice the launch timeout).</summary>
    public static readonly TimeSpan StaleStart = TimeSpan.FromMinutes(2);

    /// <summary>Statuses only a live worker holds: a dead worker's last word is not the task's status.</summary>
    private static bool NeedsWorker(SyncTaskStatus status) => status is SyncTaskStatus.Running or SyncTaskStatus.Retrying or SyncTaskStatus.Stopping;

    public override string ToString() => Stage is { } s ? $"stage {s}" : Status is { } st ? $"status {st}" : $"{Condition}";
}
