namespace Sync.Engine.Stream;

/// <summary>
/// A decoded replication message, copied out of the driver's buffer (which the next message reuses). Values are in
/// pgoutput's text or binary format (<see cref="ColumnValue"/>); unchanged TOAST values are flagged, never turned into NULL.
/// </summary>
public abstract record StreamEvent
{
    /// <summary>
    /// The server's WAL end when the message was sent: how far the source is. Set by the reader on the event it has just
    /// decoded, before anyone else sees it (a copy per message, for this one field, was a good part of the reader's
    /// allocations).
    /// </summary>
    public SyncLsn ServerWalEnd { get; internal set; }
}

public sealed record BeginEvent(uint Xid, SyncLsn CommitLsn, DateTimeOffset CommitTime) : StreamEvent;

public sealed record CommitEvent(SyncLsn CommitLsn, SyncLsn EndLsn, DateTimeOffset CommitTime) : StreamEvent;

public sealed record OriginEvent(string Name) : StreamEvent;

public sealed record RelationEvent(uint RelationId, string Schema, string Name, IReadOnlyList<string> Columns, IReadOnlyList<bool> KeyColumns, bool FullIdentity) : StreamEvent
{
    /// <summary>Each column's type on the source, as the message names it (empty when not known, as in tests that build relations).</summary>
    public IReadOnlyList<uint> TypeOids { get; init; } = [];
}

public enum RowChangeKind
{
    Insert,
    Update,
    Delete,
}

/// <summary>A row change. <see cref="OldValues"/> holds the old key (or the whole old row with REPLICA IDENTITY FULL) when sent.</summary>
public sealed record RowEvent(RowChangeKind Kind, uint RelationId, ColumnValue[]? OldValues, bool OldIsFullRow, ColumnValue[]? NewValues, bool[]? Unchanged) : StreamEvent;

public sealed record TruncateEvent(IReadOnlyList<uint> RelationIds, bool Cascade, bool RestartIdentity) : StreamEvent;

/// <summary>A non-transactional logical decoding message: the task's heartbeat.</summary>
public sealed record HeartbeatEvent(SyncLsn Lsn, string Prefix, string Payload) : StreamEvent;
