using Sync.Engine.Catalog;

namespace Sync.Engine.Schema;

/// <summary>What a task covers on a given source catalog: the selection and mapping of its definition applied.</summary>
public sealed record TaskScope
{
    public required CatalogSnapshot Catalog { get; init; }
    public required IReadOnlyList<ScopedTable> Tables { get; init; }
    public required IReadOnlyList<SequenceInfo> Sequences { get; init; }
    public required IReadOnlyList<TypeInfo> Types { get; init; }
    public required IReadOnlyList<FunctionInfo> Functions { get; init; }
    /// <summary>Source schemas that hold selected objects.</summary>
    public required IReadOnlyList<string> Schemas { get; init; }
    public required IReadOnlyDictionary<string, string> SchemaMap { get; init; }
    public required SqlRenamer Renamer { get; init; }
    /// <summary>True when the whole database is selected: functions and triggers travel too.</summary>
    public bool DatabaseLevel { get; init; }
    /// <summary>Objects left out, with why (unlogged tables in streaming tasks, ...).</summary>
    public IReadOnlyList<(string Object, string Reason)> Excluded { get; init; } = [];

    public string MapSchema(string schema) => SchemaMap.TryGetValue(schema, out var mapped) ? mapped : schema;

    public QualifiedName MapName(QualifiedName source) =>
        Tables.FirstOrDefault(t => t.Name == source)?.Destination ?? new QualifiedName(MapSchema(source.Schema), source.Name);

    public IEnumerable<ScopedTable> DataTables => Tables.Where(t => t.Source.HoldsData);

    public ScopedTable? Find(QualifiedName source) => Tables.FirstOrDefault(t => t.Name == source);
}
