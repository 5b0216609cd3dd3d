namespace Sync.Engine.Tasks;

/// <summary>How a task behaves. Defaults follow the reference documents.</summary>
public sealed record TaskOptions
{
    public ConflictPolicy ConflictPolicy { get; init; } = ConflictPolicy.Fail;
    public ExistingTablePolicy ExistingTables { get; init; } = ExistingTablePolicy.Error;
    /// <summary>Create indexes on the destination.</summary>
    public bool SyncIndexes { get; init; } = true;
    /// <summary>Synchronize DDL while streaming.</summary>
    public bool SyncDdl { get; init; }
    /// <summary>Refresh materialized views after the copy.</summary>
    public bool PopulateMaterializedViews { get; init; } = true;
    /// <summary>Copy connections; 0 chooses from the core count.</summary>
    public int CopyWorkers { get; init; }
    /// <summary>Tables larger than this are copied as several ranges in parallel.</summary>
    public long SplitTableBytes { get; init; } = 64L * 1024 * 1024;
    public FlowControl FlowControl { get; init; } = new();
    /// <summary>How long connection failures are retried before the task fails (10-1440).</summary>
    public int ConnectionRetryMinutes { get; init; } = 720;
    /// <summary>How long other failures are retried; must be below the connection window.</summary>
    public int OtherRetryMinutes { get; init; } = 10;
    /// <summary>An event warns when the task's slot holds more WAL than this on the source.</summary>
    public long WalRetentionWarningBytes { get; init; } = 1024L * 1024 * 1024;
    /// <summary>End-to-end latency above this raises a Warning event (and a later Information event when it is back under).</summary>
    public int LatencyWarningSeconds { get; init; } = 60;
    /// <summary>Text forces the stream's values into text form; Auto streams in binary where the types allow it.</summary>
    public StreamFormatOption StreamFormat { get; init; } = StreamFormatOption.Auto;
    /// <summary>Added to source sequence values when they are set on the destination at the end.</summary>
    public long SequenceSafetyMargin { get; init; } = 10_000;
}
