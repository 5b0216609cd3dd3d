namespace Sync.Engine.Catalog;

/// <summary>What the source catalog holds, as read by <see cref="CatalogReader"/>.</summary>
public sealed record CatalogSnapshot
{
    public required int ServerVersion { get; init; }
    public IReadOnlyList<string> Schemas { get; init; } = [];
    public IReadOnlyList<(string Name, string Schema)> Extensions { get; init; } = [];
    public IReadOnlyList<TypeInfo> Types { get; init; } = [];
    public IReadOnlyList<CollationInfo> Collations { get; init; } = [];
    public IReadOnlyList<SequenceInfo> Sequences { get; init; } = [];
    public IReadOnlyList<TableInfo> Tables { get; init; } = [];
    public IReadOnlyList<FunctionInfo> Functions { get; init; } = [];

    public TableInfo? Find(QualifiedName name) => Tables.FirstOrDefault(t => t.Name == name);
}
