namespace Sync.Engine.Catalog;

/// <summary>A table, partitioned table, view or materialized view of the source.</summary>
public sealed record TableInfo
{
    public required uint Oid { get; init; }
    public required QualifiedName Name { get; init; }
    /// <summary>r table, p partitioned table, v view, m materialized view.</summary>
    public required char Kind { get; init; }
    /// <summary>p permanent, u unlogged, t temporary.</summary>
    public char Persistence { get; init; } = 'p';
    /// <summary>d default (primary key), n nothing, f full, i index.</summary>
    public char ReplicaIdentity { get; init; } = 'd';
    public long Pages { get; init; }
    public double EstimatedRows { get; init; }
    public long SizeBytes { get; init; }
    /// <summary>pg_get_partkeydef for a partitioned table.</summary>
    public string? PartitionKey { get; init; }
    /// <summary>The partition bound (FOR VALUES ...) when this table is a partition.</summary>
    public string? PartitionBound { get; init; }
    public QualifiedName? PartitionParent { get; init; }
    /// <summary>pg_get_viewdef for views and materialized views.</summary>
    public string? ViewDefinition { get; init; }
    public IReadOnlyList<string> Options { get; init; } = [];
    public IReadOnlyList<ColumnInfo> Columns { get; init; } = [];
    public IReadOnlyList<ConstraintInfo> Constraints { get; init; } = [];
    public IReadOnlyList<IndexInfo> Indexes { get; init; } = [];
    /// <summary>pg_get_triggerdef of user triggers.</summary>
    public IReadOnlyList<(string Name, string Definition)> Triggers { get; init; } = [];

    public bool IsTable => Kind is 'r' or 'p';
    public bool IsView => Kind is 'v' or 'm';
    public bool HoldsData => Kind is 'r';
    public ConstraintInfo? PrimaryKey => Constraints.FirstOrDefault(c => c.Type == 'p');
}
