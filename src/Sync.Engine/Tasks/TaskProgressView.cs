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

    /// <summary>
    /// The progress bars to show for a task: an overall bar (id 1), and under it one bar per table being copied.
    /// Ids are stable per table within a run, so a bar moves instead of jumping.
    /// </summary>
    public static IReadOnlyList<ProgressBar> Bars(TaskInfo task)
    {
        var state = task.State;
        var percent = Percent(task.Definition, state);
        var status = state.Stage switch
        {
            SyncTaskStage.FullInitialization when state.Copy is { } copy =>
                $"{copy.Tables.Count(t => t.State == TableCopyState.Copied)} of {copy.Tables.Count} tables, {copy.BytesCopied / 1048576.0:0.#} MB at {copy.BytesPerSecond / 1048576.0:0.#} MB/s",
            SyncTaskStage.RealtimeSync when state.Stream is { } stream =>
                (stream.LatencySeconds is { } latency ? $"latency {latency:0.###} s, " : "latency not measured yet, ") + $"{stream.TransactionsPerSecond:0} tx/s",
            _ => $"{state.Status}",
        };
        var bars = new List<ProgressBar>
        {
            new(1, null, $"Sync task {task.Name}: {state.Stage}", status, percent is null ? -1 : (int)percent, (int?)Remaining(state)?.TotalSeconds ?? -1),
        };
        if (state.Copy is { } c && state.Stage == SyncTaskStage.FullInitialization)
        {
            for (var i = 0; i < c.Tables.Count; i++)
            {
                var table = c.Tables[i];
                if (table.State != TableCopyState.Copying) continue;
                var tablePercent = table.EstimatedBytes > 0 ? (int)Math.Min(99, table.BytesCopied * 100 / table.EstimatedBytes) : -1;
                var ranges = table.Ranges.Count > 1 ? $", {table.Ranges.Count(r => r.State == TableCopyState.Copied)} of {table.Ranges.Count} ranges" : "";
                bars.Add(new ProgressBar(2 + i, 1, $"{table.Source} -> {table.Destination}", $"{table.RowsCopied:N0} rows{ranges}", tablePercent, -1));
            }
        }
        return bars;
    }

    /// <summary>Time left for the full copy at its current rate, when one is known.</summary>
    public static TimeSpan? Remaining(TaskState state)
    {
        if (state.Copy is not { CompletedAt: null } copy || copy.BytesPerSecond <= 0) return null;
        var left = Math.Max(0, copy.EstimatedBytes - copy.BytesCopied);
        return TimeSpan.FromSeconds(Math.Ceiling(left / copy.BytesPerSecond));
    }
}
