namespace Sync.Engine.Tasks;

/// <summary>The real-time stream, as last reported by the worker (a mirror; the checkpoint on the destination is authoritative).</summary>
public sealed record StreamProgress
{
    /// <summary>The task's slot, once created.</summary>
    public string? SlotName { get; init; }
    /// <summary>True while the source holds the task's heartbeat table (sources before PostgreSQL 14).</summary>
    public bool HeartbeatTable { get; init; }
    /// <summary>The slot's consistent point: where streaming starts for tables copied under the slot's snapshot.</summary>
    public string? SlotConsistentLsn { get; init; }
    public string? CheckpointLsn { get; init; }
    public string? ConfirmedLsn { get; init; }
    public double? LatencySeconds { get; init; }
    public long? LagBytes { get; init; }
    public long? RetainedWalBytes { get; init; }
    public long AppliedTransactions { get; init; }
    public long AppliedRows { get; init; }
    public double TransactionsPerSecond { get; init; }
    public double RowsPerSecond { get; init; }
    public DateTimeOffset? LastSourceCommit { get; init; }
}
