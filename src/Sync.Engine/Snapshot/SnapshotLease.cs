using Npgsql;
using Npgsql.Replication;

namespace Sync.Engine.Snapshot;

/// <summary>
/// An exported snapshot and its WAL position, valid while the lease is held (the exporting session stays open until
/// every copy connection has imported it). For streaming tasks it comes from creating a logical replication slot, so
/// the slot's consistent point is exactly where the copy's data ends (DESIGN.md, "Per-table snapshot LSN").
/// </summary>
public sealed class SnapshotLease : IAsyncDisposable
{
    private readonly IAsyncDisposable _holder;

    private SnapshotLease(string snapshotName, SyncLsn lsn, string? slotName, IAsyncDisposable holder)
    {
        SnapshotName = snapshotName;
        Lsn = lsn;
        SlotName = slotName;
        _holder = holder;
    }

    public string SnapshotName { get; }
    public SyncLsn Lsn { get; }
    /// <summary>The slot created with the snapshot, when there is one.</summary>
    public string? SlotName { get; }

    /// <summary>The replication connection that created the slot (a temporary slot is streamed from it, then dies with it).</summary>
    public LogicalReplicationConnection? Replication => _holder as LogicalReplicationConnection;

    /// <summary>A repeatable-read transaction's snapshot (Full tasks: no slot is needed).</summary>
    public static async Task<SnapshotLease> ExportAsync(NpgsqlDataSource source, CancellationToken ct)
    {
        var connection = await source.OpenConnectionAsync(ct).ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot(), pg_current_wal_lsn()::text", connection);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await reader.ReadAsync(ct).ConfigureAwait(false);
            var name = reader.GetString(0);
            var lsn = SyncLsn.Parse(reader.GetString(1));
            return new SnapshotLease(name, lsn, null, connection);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Creates a pgoutput slot with an exported snapshot. A temporary slot disappears with this lease: it is used only
    /// for its snapshot and position when some tables are copied again while the task's own slot keeps its place.
    /// </summary>
    public static async Task<SnapshotLease> CreateSlotAsync(string replicationConnectionString, string slotName, bool temporary, CancellationToken ct)
    {
        var connection = new LogicalReplicationConnection(replicationConnectionString);
        try
        {
            await connection.Open(ct).ConfigureAwait(false);
            var slot = await connection.CreatePgOutputReplicationSlot(slotName, temporarySlot: temporary,
                slotSnapshotInitMode: LogicalSlotSnapshotInitMode.Export, cancellationToken: ct).ConfigureAwait(false);
            return new SnapshotLease(slot.SnapshotName!, new SyncLsn((ulong)slot.ConsistentPoint), slotName, connection);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts a transaction on <paramref name="connection"/> that sees exactly this snapshot.</summary>
    public async Task ImportAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            $"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {Catalog.Identifier.Literal(SnapshotName)}", connection);
        await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _holder.DisposeAsync();
}
