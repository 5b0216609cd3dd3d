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
    /// <summary>Destination tables the task created itself (kept through resets): never counted as someone else's existing table.</summary>
    public IReadOnlyList<string> OwnedTables { get; init; } = [];
    /// <summary>
    /// Set by a reset without -ClearDestination: the task's tables kept their rows, so the next copy writes into them
    /// through the conflict policy and the existing-table option applies to them as to anyone's.
    /// </summary>
    public bool KeptRows { get; init; }

    /// <summary>Destination tables the next run may empty and fill as its own.</summary>
    public IReadOnlySet<string> OwnDestinationTables() => KeptRows
        ? new HashSet<string>()
        : OwnedTables.Concat(Tables.Where(t => !t.PreExisting).Select(t => t.Destination)).ToHashSet(StringComparer.Ordinal);

    public long EstimatedBytes => Tables.Sum(t => Math.Max(t.EstimatedBytes, t.BytesCopied));
    public long BytesCopied => Tables.Sum(t => t.BytesCopied);
    public long RowsCopied => Tables.Sum(t => t.RowsCopied);
}
