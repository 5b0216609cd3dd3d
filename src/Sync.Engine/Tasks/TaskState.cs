namespace Sync.Engine.Tasks;

/// <summary>Where a task is. Written by the worker, or by a cmdlet holding the task lock when no worker runs.</summary>
public sealed record TaskState
{
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    public SyncTaskStatus Status { get; init; } = SyncTaskStatus.Created;
    public SyncTaskStage Stage { get; init; } = SyncTaskStage.None;
    public WorkerInfo? Worker { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public PrecheckSummary? Precheck { get; init; }
    public ErrorState? LastError { get; init; }
    /// <summary>Since when the task has been retrying, with the error that started it.</summary>
    public DateTimeOffset? RetryingSince { get; init; }
    /// <summary>The highest control request the worker has acted on.</summary>
    public long HandledControlSequence { get; init; }
    public CopyProgress? Copy { get; init; }
    /// <summary>
    /// Source tables (schema.table) to copy again while the stream runs (Restart-SyncTask); "*" means every table, with
    /// missing destination columns added first. A table leaves the list when its table sync hands it back to the stream.
    /// </summary>
    public IReadOnlyList<string> PendingBackfill { get; init; } = [];

    /// <summary>
    /// The table waits to be copied again while the stream skips it: asked for with Restart-SyncTask, or added to (or
    /// being copied by) a streaming task and not yet handed to the stream.
    /// </summary>
    public bool AwaitsCopy(TableProgress table) =>
        PendingBackfill.Contains("*") || PendingBackfill.Contains(table.Source) || (Copy?.CompletedAt is not null && !table.InStream);
    public StreamProgress? Stream { get; init; }
    /// <summary>
    /// What the last forced stop could not remove from the servers (the slot keeps WAL on the source until it goes), each
    /// with the SQL that removes it. Empty when everything went.
    /// </summary>
    public IReadOnlyList<string> LeftOnServers { get; init; } = [];
}
