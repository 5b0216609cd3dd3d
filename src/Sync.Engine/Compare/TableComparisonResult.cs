namespace Sync.Engine.Compare;

/// <summary>The comparison of one table.</summary>
public sealed record TableComparisonResult
{
    public required string SourceTable { get; init; }
    public required string DestinationTable { get; init; }
    public required ComparisonLevel Level { get; init; }
    public ComparisonResult Result { get; init; }
    public long SourceRows { get; init; }
    public long DestinationRows { get; init; }
    /// <summary>Hash buckets whose count or checksum differ (Checksum and Row levels).</summary>
    public int DifferingBuckets { get; init; }
    public int Buckets { get; init; }
    public long MissingRows { get; init; }
    public long ExtraRows { get; init; }
    public long ChangedRows { get; init; }
    /// <summary>Rows read from both servers to compare row by row: only those of differing buckets (and sub-buckets).</summary>
    public long RowsRead { get; init; }
    /// <summary>A bounded sample of the differing rows (Row level).</summary>
    public IReadOnlyList<RowDifference> Samples { get; init; } = [];
    public string? Error { get; init; }
    public TimeSpan Duration { get; init; }
}
