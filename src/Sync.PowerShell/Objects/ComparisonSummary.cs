namespace Sync;

/// <summary>The whole comparison of a task (Compare-SyncTask -Summary).</summary>
public sealed class ComparisonSummary
{
    internal ComparisonSummary(string taskName, Engine.Compare.ComparisonReport report)
    {
        TaskName = taskName;
        Tables = report.Tables.Select(t => new TableComparison(taskName, t, report.SourceLsn, report.TaskWasStreaming)).ToArray();
        TableCount = Tables.Count;
        Equal = Tables.Count(t => t.Result == ComparisonResult.Equal);
        Different = Tables.Count(t => t.Result is ComparisonResult.Different or ComparisonResult.MissingOnDestination);
        Errors = Tables.Count(t => t.Result == ComparisonResult.Error);
        AllEqual = report.AllEqual;
        ValidForSourceLsn = SyncLsn.TryParse(report.SourceLsn, out var lsn) ? lsn : null;
        TaskWasStreaming = report.TaskWasStreaming;
        Duration = report.CompletedAt - report.StartedAt;
    }

    public string TaskName { get; }
    public int TableCount { get; }
    public int Equal { get; }
    public int Different { get; }
    public int Errors { get; }
    public bool AllEqual { get; }
    public SyncLsn? ValidForSourceLsn { get; }
    public bool TaskWasStreaming { get; }
    public TimeSpan Duration { get; }
    public IReadOnlyList<TableComparison> Tables { get; }

    public override string ToString() => $"{TaskName}: {Equal} of {TableCount} tables equal";
}
