using Sync.Engine.Tasks;

namespace Sync;

/// <summary>One range of a table's copy (a block or key range), a subtask of the full initialization.</summary>
public sealed class SyncTableRange
{
    internal SyncTableRange(RangeProgress range)
    {
        Index = range.Index;
        Lower = range.Lower;
        Upper = range.Upper;
        State = range.State;
        Rows = range.Rows;
        Bytes = range.Bytes;
        StartedAt = range.StartedAt?.LocalDateTime;
        EndedAt = range.EndedAt?.LocalDateTime;
    }

    public int Index { get; }
    /// <summary>Lower bound, inclusive (a ctid block or a key); empty for the table's start.</summary>
    public string? Lower { get; }
    /// <summary>Upper bound, exclusive; empty for the table's end.</summary>
    public string? Upper { get; }
    public TableCopyState State { get; }
    public long Rows { get; }
    public long Bytes { get; }
    public DateTime? StartedAt { get; }
    public DateTime? EndedAt { get; }

    public override string ToString() => $"#{Index} [{Lower ?? "start"}, {Upper ?? "end"}): {State}";
}
