namespace Sync.Engine.Tasks;

/// <summary>What a task synchronizes and how. Changed only through the cmdlets (DESIGN.md).</summary>
public sealed record TaskDefinition
{
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    /// <summary>Short lower-case hex id, part of every server object's name.</summary>
    public required string Id { get; init; }
    public required string Name { get; init; }
    public string? Description { get; init; }
    public SyncTaskMode Mode { get; init; } = SyncTaskMode.FullIncremental;
    public required EndpointDefinition Source { get; init; }
    public required EndpointDefinition Destination { get; init; }
    public ObjectSelection Selection { get; init; } = new();
    public NameMapping Mapping { get; init; } = new();
    /// <summary>Per source table (schema.table): a SQL boolean expression over the source's columns.</summary>
    public IReadOnlyDictionary<string, string> RowFilters { get; init; } = new Dictionary<string, string>();
    /// <summary>Per source table: which operations are synchronized (default all).</summary>
    public IReadOnlyDictionary<string, TableOperations> Operations { get; init; } = new Dictionary<string, TableOperations>();
    public TaskOptions Options { get; init; } = new();
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
    public DateTimeOffset? ScheduledStart { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset ModifiedAt { get; init; }
    /// <summary>Incremented by every change; lets a worker notice edits.</summary>
    public long Revision { get; init; }
}
