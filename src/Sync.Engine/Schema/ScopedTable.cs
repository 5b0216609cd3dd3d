using Sync.Engine.Catalog;

namespace Sync.Engine.Schema;

/// <summary>A selected table or view with its destination name, the columns that travel, filter and operations.</summary>
public sealed record ScopedTable
{
    public required TableInfo Source { get; init; }
    public required QualifiedName Destination { get; init; }
    /// <summary>Selected columns in source order.</summary>
    public required IReadOnlyList<ColumnInfo> Columns { get; init; }
    /// <summary>Source column name → destination column name, for every selected column.</summary>
    public required IReadOnlyDictionary<string, string> ColumnNames { get; init; }
    public string? RowFilter { get; init; }
    public TableOperations Operations { get; init; } = TableOperations.All;

    public QualifiedName Name => Source.Name;

    /// <summary>Columns a COPY carries: generated columns are computed on the destination.</summary>
    public IReadOnlyList<ColumnInfo> CopyColumns => Columns.Where(c => c.Generated is null).ToArray();

    public bool UsesTextCopy => CopyColumns.Any(c => c.NeedsTextCopy);

    public string DestinationColumn(string source) => ColumnNames[source];
}
