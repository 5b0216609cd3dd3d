namespace Sync.Engine.Tasks;

/// <summary>Figures derived from a task's state for display: percent done, rate, time left.</summary>
public static class TaskProgressView
{
    /// <summary>Percent of the task's finite work done: the full copy for Full and FullIncremental tasks.</summary>
    public static double? Percent(TaskDefinition task, TaskState state)
    {
        if (state.Status == SyncTaskStatus.Completed && task.Mode == SyncTaskMode.Full) return 100;
        if (task.Mode == SyncTaskMode.Incremental) return state.Stage == SyncTaskStage.RealtimeSync ? 100 : null;
        if (state.Stage is SyncTaskStage.RealtimeSync or SyncTaskStage.PostDataMigration) return 100;
        if (state.Copy is not { } copy || copy.Tables.Count == 0) return state.Stage == SyncTaskStage.None ? null : 0;
        if (copy.CompletedAt is not null) return 100;
        var total = copy.EstimatedBytes;
        if (total <= 0) return copy.Tables.Count(t => t.State == TableCopyState.Copied) * 100.0 / copy.Tables.Count;
        return Math.Min(99.9, copy.BytesCopied * 100.0 / total);
    }

    /// <summary>Time left for the full copy at its current rate, when one is known.</summary>
    public static TimeSpan? Remaining(TaskState state)
    {
        if (state.Copy is not { CompletedAt: null } copy || copy.BytesPerSecond <= 0) return null;
        var left = Math.Max(0, copy.EstimatedBytes - copy.BytesCopied);
        return TimeSpan.FromSeconds(Math.Ceiling(left / copy.BytesPerSecond));
    }
}
