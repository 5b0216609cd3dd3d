namespace Sync.Engine.Tasks;

/// <summary>One range of a table's copy (a block range or a key range).</summary>
public sealed record RangeProgress
{
    public required int Index { get; init; }
    /// <summary>Lower bound, inclusive (text form of a ctid block or key), null for the table's start.</summary>
    public string? Lower { get; init; }
    /// <summary>Upper bound, exclusive, null for the table's end.</summary>
    public string? Upper { get; init; }
    public TableCopyState State { get; init; }
    public long Rows { get; init; }
    public long Bytes { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
}
