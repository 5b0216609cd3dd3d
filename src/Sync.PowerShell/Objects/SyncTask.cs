using Sync.Engine.Tasks;

namespace Sync;

/// <summary>A synchronization task: its definition and where it is, as Get-SyncTask returns it.</summary>
public sealed class SyncTask
{
    internal SyncTask(TaskInfo info)
    {
        var d = info.Definition;
        var s = info.State;
        Name = d.Name;
        Id = d.Id;
        Description = d.Description;
        Mode = d.Mode;
        Status = s.Status;
        Stage = s.Stage;
        Worker = info.Worker;
        Progress = TaskProgressView.Percent(d, s);
        Remaining = TaskProgressView.Remaining(s);
        Latency = s.Stream?.LatencySeconds is { } latency ? TimeSpan.FromSeconds(latency) : null;
        LagBytes = s.Stream?.LagBytes;
        RetainedWalBytes = s.Stream?.RetainedWalBytes;
        CheckpointLsn = SyncLsn.TryParse(s.Stream?.CheckpointLsn, out var lsn) ? lsn : null;
        AppliedTransactionsPerSecond = s.Stream?.TransactionsPerSecond;
        AppliedRowsPerSecond = s.Stream?.RowsPerSecond;
        CopyRowsPerSecond = s.Copy?.RowsPerSecond;
        CopyBytesPerSecond = s.Copy?.BytesPerSecond;
        RowsCopied = s.Copy?.RowsCopied;
        BytesCopied = s.Copy?.BytesCopied;
        Tables = s.Copy?.Tables.Count ?? 0;
        TablesCopied = s.Copy?.Tables.Count(t => t.State == TableCopyState.Copied) ?? 0;
        Source = new SyncEndpoint(d.Source);
        Destination = new SyncEndpoint(d.Destination);
        ConflictPolicy = d.Options.ConflictPolicy;
        ExistingTables = d.Options.ExistingTables;
        StreamFormat = d.Options.StreamFormat;
        RowsPerSecondLimit = d.Options.FlowControl.RowsPerSecond;
        BytesPerSecondLimit = d.Options.FlowControl.BytesPerSecond;
        FlowWindows = d.Options.FlowControl.Windows.Select(w => w.ToString()).ToArray();
        IncludeSchemas = d.Selection.IncludeSchemas.ToArray();
        ExcludeSchemas = d.Selection.ExcludeSchemas.ToArray();
        IncludeTables = d.Selection.IncludeTables.ToArray();
        ExcludeTables = d.Selection.ExcludeTables.ToArray();
        Tags = new Dictionary<string, string>(d.Tags, StringComparer.OrdinalIgnoreCase);
        ScheduledStart = d.ScheduledStart;
        CreatedAt = d.CreatedAt;
        ModifiedAt = d.ModifiedAt;
        StartedAt = s.StartedAt;
        CompletedAt = s.CompletedAt;
        Heartbeat = s.Worker?.Heartbeat;
        WorkerProcessId = s.Worker?.ProcessId;
        WorkerHost = s.Worker?.HostName;
        PrecheckSuccessRate = s.Precheck?.SuccessRate;
        LastError = s.LastError?.Message;
        LastErrorId = s.LastError?.ErrorId;
        LastErrorTime = s.LastError?.At;
        RetryingSince = s.RetryingSince;
        LastEventTime = info.LastEventAt;
        LeftOnServers = s.LeftOnServers.ToArray();
        ReplicationSlot = d.Mode == SyncTaskMode.Full ? null : TaskNaming.SlotName(d);
        Revision = d.Revision;
    }

    public string Name { get; }
    public string Id { get; }
    public string? Description { get; }
    public SyncTaskMode Mode { get; }
    public SyncTaskStatus Status { get; }
    public SyncTaskStage Stage { get; }
    /// <summary>Whether a worker process runs the task; Dead means the state says running but the worker is gone.</summary>
    public WorkerLiveness Worker { get; }
    /// <summary>Percent of the full copy done (100 once streaming).</summary>
    public double? Progress { get; }
    /// <summary>Estimated time left for the full copy.</summary>
    public TimeSpan? Remaining { get; }
    /// <summary>How far the destination trails the source in time while streaming.</summary>
    public TimeSpan? Latency { get; }
    /// <summary>WAL bytes between the source's current position and what the destination has applied.</summary>
    public long? LagBytes { get; }
    public long? RetainedWalBytes { get; }
    public SyncLsn? CheckpointLsn { get; }
    public double? AppliedTransactionsPerSecond { get; }
    public double? AppliedRowsPerSecond { get; }
    public double? CopyRowsPerSecond { get; }
    public double? CopyBytesPerSecond { get; }
    public long? RowsCopied { get; }
    public long? BytesCopied { get; }
    public int Tables { get; }
    public int TablesCopied { get; }
    public SyncEndpoint Source { get; }
    public SyncEndpoint Destination { get; }
    public ConflictPolicy ConflictPolicy { get; }
    public ExistingTablePolicy ExistingTables { get; }
    /// <summary>Auto (binary where the types allow it) or Text; the stream's start event says which format it runs in.</summary>
    public StreamFormatOption StreamFormat { get; }
    public long? RowsPerSecondLimit { get; }
    public long? BytesPerSecondLimit { get; }
    public IReadOnlyList<string> FlowWindows { get; }
    public IReadOnlyList<string> IncludeSchemas { get; }
    public IReadOnlyList<string> ExcludeSchemas { get; }
    public IReadOnlyList<string> IncludeTables { get; }
    public IReadOnlyList<string> ExcludeTables { get; }
    public IReadOnlyDictionary<string, string> Tags { get; }
    public DateTimeOffset? ScheduledStart { get; }
    public DateTimeOffset CreatedAt { get; }
    public DateTimeOffset ModifiedAt { get; }
    public DateTimeOffset? StartedAt { get; }
    public DateTimeOffset? CompletedAt { get; }
    public DateTimeOffset? Heartbeat { get; }
    public int? WorkerProcessId { get; }
    public string? WorkerHost { get; }
    public double? PrecheckSuccessRate { get; }
    public string? LastError { get; }
    public string? LastErrorId { get; }
    public DateTimeOffset? LastErrorTime { get; }
    public DateTimeOffset? RetryingSince { get; }
    /// <summary>When the task's event log was last written (Get-SyncTaskEvent reads it).</summary>
    public DateTimeOffset? LastEventTime { get; }
    /// <summary>What a forced stop could not remove from the servers, each with the SQL that removes it.</summary>
    public IReadOnlyList<string> LeftOnServers { get; }
    public string? ReplicationSlot { get; }
    public long Revision { get; }

    public override string ToString() => Name;
}
