namespace Sync.Engine.Tasks;

/// <summary>
/// Destination names that differ from the source's. Keys are source names; values are destination names.
/// A table mapping may move a table to another schema (<c>archive.orders_2024</c>) or only rename it.
/// </summary>
public sealed record NameMapping
{
    public IReadOnlyDictionary<string, string> Schemas { get; init; } = new Dictionary<string, string>();
    public IReadOnlyDictionary<string, string> Tables { get; init; } = new Dictionary<string, string>();
    /// <summary>Per source table (schema.table): source column name → destination column name.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Columns { get; init; } =
        new Dictionary<string, IReadOnlyDictionary<string, string>>();

    public bool IsEmpty => Schemas.Count == 0 && Tables.Count == 0 && Columns.Count == 0;
}
