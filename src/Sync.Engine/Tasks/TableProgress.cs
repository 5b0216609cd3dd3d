namespace Sync.Engine.Tasks;

/// <summary>A table's part of the full copy.</summary>
public sealed record TableProgress
{
    /// <summary>Source table (schema.table).</summary>
    public required string Source { get; init; }
    /// <summary>Destination table after mapping.</summary>
    public required string Destination { get; init; }
    public TableCopyState State { get; init; }
    public long EstimatedRows { get; init; }
    public long EstimatedBytes { get; init; }
    public long RowsCopied { get; init; }
    public long BytesCopied { get; init; }
    /// <summary>The WAL position of the snapshot the table was copied under.</summary>
    public string? SnapshotLsn { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    public IReadOnlyList<RangeProgress> Ranges { get; init; } = [];
    /// <summary>The destination table existed before the task: it is never truncated, rows go through the conflict policy.</summary>
    public bool PreExisting { get; init; }

    /// <summary>Copied and handed to the stream at a position (a table sync records the position only at its hand-over).</summary>
    public bool InStream => State == TableCopyState.Copied && SnapshotLsn is not null;
}
