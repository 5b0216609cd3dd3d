namespace Sync.Engine.Catalog;

/// <summary>A table constraint: p (primary key), u (unique), c (check), f (foreign key), x (exclusion).</summary>
public sealed record ConstraintInfo
{
    public required string Name { get; init; }
    public required char Type { get; init; }
    /// <summary>pg_get_constraintdef text.</summary>
    public required string Definition { get; init; }
    public IReadOnlyList<string> Columns { get; init; } = [];
    public QualifiedName? ReferencedTable { get; init; }
    public IReadOnlyList<string> ReferencedColumns { get; init; } = [];
    public char OnUpdate { get; init; } = 'a';
    public char OnDelete { get; init; } = 'a';
    public char MatchType { get; init; } = 's';
    public bool Deferrable { get; init; }
    public bool InitiallyDeferred { get; init; }
    public bool Validated { get; init; } = true;
}
