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

    /// <summary>True when the task is where this target asks for.</summary>
    public bool IsReached(TaskInfo task, bool stopped)
    {
        var state = task.State;
        if (Stage is { } stage) return state.Stage >= stage;
        if (Status is { } status) return state.Status == status;
        return Condition switch
        {
            WaitCondition.FullSyncComplete => state.Copy?.CompletedAt is not null || (task.Definition.Mode == SyncTaskMode.Incremental && state.Stage == SyncTaskStage.RealtimeSync),
            WaitCondition.CaughtUp => state.Stage == SyncTaskStage.RealtimeSync && state.Stream?.LatencySeconds is { } l && l <= LatencyBound.TotalSeconds,
            _ => stopped,
        };
    }

    /// <summary>Whether a task that no worker runs any more may still count as having reached this (waiting for it to stop or fail).</summary>
    public bool AcceptsEnd => Condition == WaitCondition.Stopped || Status is SyncTaskStatus.Failed;

    public override string ToString() => Stage is { } s ? $"stage {s}" : Status is { } st ? $"status {st}" : $"{Condition}";
}
