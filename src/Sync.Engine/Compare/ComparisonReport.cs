namespace Sync.Engine.Compare;

/// <summary>A whole comparison: per-table results and what they are valid for.</summary>
public sealed record ComparisonReport
{
    public required IReadOnlyList<TableComparisonResult> Tables { get; init; }
    /// <summary>The source's WAL position when the comparison started.</summary>
    public string? SourceLsn { get; init; }
    /// <summary>True when the task was streaming: rows changed during the comparison may show as differences.</summary>
    public bool TaskWasStreaming { get; init; }
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset CompletedAt { get; init; }
    public bool AllEqual => Tables.All(t => t.Result == ComparisonResult.Equal);
}
