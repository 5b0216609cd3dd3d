namespace Sync.Engine.Tasks;

/// <summary>One line of a task's append-only event log.</summary>
public sealed record TaskEvent
{
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    public required DateTimeOffset Time { get; init; }
    public SyncEventLevel Level { get; init; } = SyncEventLevel.Information;
    public required SyncEventKind Kind { get; init; }
    public required string Message { get; init; }
    /// <summary>Structured details: table, key, lsn, error id...</summary>
    public IReadOnlyDictionary<string, string>? Data { get; init; }
}
