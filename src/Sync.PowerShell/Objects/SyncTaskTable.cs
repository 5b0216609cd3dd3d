using Sync.Engine.Tasks;

namespace Sync;

/// <summary>One table of a task, as Get-SyncTaskTable reports it: its copy (state, rows, bytes, times, ranges) and its snapshot position.</summary>
public sealed class SyncTaskTable
{
    internal SyncTaskTable(string taskName, TableProgress table, bool pendingCopy)
    {
        TaskName = taskName;
        Table = table.Source;
        DestinationTable = table.Destination;
        State = table.State;
        PendingCopy = pendingCopy;
        PreExisting = table.PreExisting;
        EstimatedRows = table.EstimatedRows;
        RowsCopied = table.RowsCopied;
        BytesCopied = table.BytesCopied;
        EstimatedBytes = Math.Max(table.EstimatedBytes, table.BytesCopied);
        Progress = State == TableCopyState.Copied ? 100 : EstimatedBytes > 0 ? Math.Min(99, (int)(100 * BytesCopied / EstimatedBytes)) : 0;
        SnapshotLsn = SyncLsn.TryParse(table.SnapshotLsn, out var lsn) ? lsn : null;
        StartedAt = table.StartedAt?.LocalDateTime;
        EndedAt = table.EndedAt?.LocalDateTime;
        Duration = table.StartedAt is { } s && table.EndedAt is { } e ? e - s : null;
        Ranges = table.Ranges.Count;
        RangesCopied = table.Ranges.Count(r => r.State == TableCopyState.Copied);
        CopyRanges = table.Ranges.OrderBy(r => r.Index).Select(r => new SyncTableRange(r)).ToArray();
    }

    public string TaskName { get; }
    /// <summary>Source table (schema.table).</summary>
    public string Table { get; }
    public string DestinationTable { get; }
    public TableCopyState State { get; }
    /// <summary>Waiting to be copied again (Restart-SyncTask, or added to a running task); the stream skips it until then.</summary>
    public bool PendingCopy { get; }
    /// <summary>The destination table existed before the task: never emptied, rows go through the conflict policy.</summary>
    public bool PreExisting { get; }
    public long EstimatedRows { get; }
    public long RowsCopied { get; }
    public long EstimatedBytes { get; }
    public long BytesCopied { get; }
    /// <summary>Percent of the table's bytes copied.</summary>
    public int Progress { get; }
    /// <summary>The stream applies this table's changes from this source position on (the snapshot it was copied under).</summary>
    public SyncLsn? SnapshotLsn { get; }
    public DateTime? StartedAt { get; }
    public DateTime? EndedAt { get; }
    public TimeSpan? Duration { get; }
    public int Ranges { get; }
    public int RangesCopied { get; }
    /// <summary>The ranges the table's copy was split into, each with its state, rows, bytes and times.</summary>
    public IReadOnlyList<SyncTableRange> CopyRanges { get; }

    public override string ToString() => $"{Table}: {State}";
}
