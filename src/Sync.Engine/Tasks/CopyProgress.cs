namespace Sync.Engine.Tasks;

/// <summary>The full copy as a whole.</summary>
public sealed record CopyProgress
{
    public string? SnapshotLsn { get; init; }
    /// <summary>When the destination schema (before the data) was created: a rerun after a crash skips it.</summary>
    public DateTimeOffset? SchemaMigratedAt { get; init; }
    /// <summary>When indexes, constraints, views and sequence values were done.</summary>
    public DateTimeOffset? PostDataAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public double RowsPerSecond { get; init; }
    public double BytesPerSecond { get; init; }
    public IReadOnlyList<TableProgress> Tables { get; init; } = [];

    public long EstimatedBytes => Tables.Sum(t => Math.Max(t.EstimatedBytes, t.BytesCopied));
    public long BytesCopied => Tables.Sum(t => t.BytesCopied);
    public long RowsCopied => Tables.Sum(t => t.RowsCopied);
}
