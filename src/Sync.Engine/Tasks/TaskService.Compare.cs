using Sync.Engine.Compare;

namespace Sync.Engine.Tasks;

public sealed partial class TaskService
{
    /// <summary>Compares the task's source and destination tables (all, or those matching <paramref name="tables"/>).</summary>
    public async Task<ComparisonReport> CompareAsync(TaskInfo task, ComparisonLevel level, IReadOnlyList<string>? tables, int sampleSize,
        Action<TableComparisonResult>? onTable, CancellationToken cancellationToken)
    {
        return await new TaskComparer(Connections).CompareAsync(task, level, tables, sampleSize, result =>
        {
            LogCompared(Log, task.Name, result.SourceTable, result.Level.ToString(), result.Result.ToString(), result.SourceRows, result.DestinationRows);
            onTable?.Invoke(result);
        }, cancellationToken).ConfigureAwait(false);
    }
}
