namespace Sync.Engine.Snapshot;

/// <summary>A block range of a table: [FirstBlock, EndBlock), EndBlock null for "to the end".</summary>
public sealed record CopyRange(int Index, long? FirstBlock, long? EndBlock)
{
    /// <summary>The WHERE condition selecting the range's rows by ctid (a TID range scan on PostgreSQL 14+).</summary>
    public string? Condition => (FirstBlock, EndBlock) switch
    {
        (null, null) => null,
        ({ } a, null) => $"ctid >= '({a},0)'::tid",
        (null, { } b) => $"ctid < '({b},0)'::tid",
        ({ } a, { } b) => $"ctid >= '({a},0)'::tid AND ctid < '({b},0)'::tid",
    };
}
