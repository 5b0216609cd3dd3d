namespace Sync.Engine.Tasks;

/// <summary>
/// What a task synchronizes, as psql-style patterns (see <see cref="NamePattern"/>). A table is selected
/// when its schema matches an include and no exclude schema pattern, and the table matches an include
/// and no exclude table pattern. System schemas are never selected.
/// </summary>
public sealed record ObjectSelection
{
    public IReadOnlyList<string> IncludeSchemas { get; init; } = ["*"];
    public IReadOnlyList<string> ExcludeSchemas { get; init; } = [];
    public IReadOnlyList<string> IncludeTables { get; init; } = ["*"];
    public IReadOnlyList<string> ExcludeTables { get; init; } = [];
    /// <summary>Column selection per table, keyed by the source table's name (schema.table).</summary>
    public IReadOnlyDictionary<string, ColumnSelection> Columns { get; init; } = new Dictionary<string, ColumnSelection>();
}
