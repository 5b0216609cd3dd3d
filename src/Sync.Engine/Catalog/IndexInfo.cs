namespace Sync.Engine.Catalog;

/// <summary>An index that does not back a constraint.</summary>
public sealed record IndexInfo
{
    public required string Name { get; init; }
    /// <summary>pg_get_indexdef text (search_path = pg_catalog).</summary>
    public required string Definition { get; init; }
    /// <summary>How pg_get_indexdef printed the index name and table, to rewrite them.</summary>
    public required string QuotedName { get; init; }
    public required string QuotedTable { get; init; }
}
