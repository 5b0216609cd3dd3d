using Npgsql;
using Sync.Engine.Catalog;
using Sync.Engine.Connections;
using Sync.Engine.Schema;
using Sync.Engine.Tasks;

namespace Sync.Engine.Stream;

/// <summary>
/// The heartbeat where pgoutput carries no logical decoding messages (sources before PostgreSQL 14): a one-row table
/// on the source, in the task's publication, whose row the worker updates every few seconds with the source's time.
/// Each update reaches the stream as a transaction of its own, so the slot moves on while the selected tables are idle
/// or only other databases are written, latency is measured end to end, and a stop drains to an exact position.
/// </summary>
public static class HeartbeatTable
{
    /// <summary>Whether a source of this major version needs the table (no pgoutput messages before 14).</summary>
    public static bool Needed(int sourceVersion) => sourceVersion < StreamFeatures.LogicalMessagesVersion;

    public static QualifiedName Name(TaskDefinition task) => new(TaskNaming.HelperSchema, TaskNaming.HeartbeatTable(task));

    public static bool IsHeartbeat(TaskDefinition task, string schema, string table) =>
        schema == TaskNaming.HelperSchema && table == TaskNaming.HeartbeatTable(task);

    /// <summary>
    /// Creates the table (and the helper schema) on the source when missing; false when the source user may not create
    /// them (the stream then runs without a heartbeat, and says so).
    /// </summary>
    public static async Task<bool> EnsureAsync(NpgsqlConnection source, TaskDefinition task, CancellationToken ct)
    {
        var name = Name(task);
        try
        {
            await source.ExecuteAsync($"""
                CREATE SCHEMA IF NOT EXISTS {Identifier.Quote(name.Schema)};
                CREATE TABLE IF NOT EXISTS {name.Sql} (id int PRIMARY KEY CHECK (id = 1), beat_at timestamptz NOT NULL);
                INSERT INTO {name.Sql} VALUES (1, now()) ON CONFLICT (id) DO NOTHING
                """, ct).ConfigureAwait(false);
            return true;
        }
        catch (PostgresException e) when (e.SqlState is "42501")
        {
            return false;
        }
    }

    /// <summary>True when the table exists on the source.</summary>
    public static async Task<bool> ExistsAsync(NpgsqlConnection source, TaskDefinition task, CancellationToken ct) =>
        await source.ScalarAsync<long>(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2", ct,
            TaskNaming.HelperSchema, TaskNaming.HeartbeatTable(task)).ConfigureAwait(false) > 0;

    /// <summary>
    /// Writes a beat and returns a position inside its transaction, before its commit: every transaction that committed
    /// before this call has a lower commit position, and this beat's own commit a higher one.
    /// </summary>
    public static async Task<SyncLsn> BeatAsync(NpgsqlConnection source, TaskDefinition task, CancellationToken ct)
    {
        await using var transaction = await source.BeginTransactionAsync(ct).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            $"UPDATE {Name(task).Sql} SET beat_at = now() WHERE id = 1; SELECT pg_current_wal_insert_lsn()::text", source, transaction);
        var position = SyncLsn.Parse((string)(await command.ExecuteScalarAsync(ct).ConfigureAwait(false))!);
        await transaction.CommitAsync(ct).ConfigureAwait(false);
        return position;
    }

    /// <summary>Drops the table, and the helper schema when nothing else is left in it.</summary>
    public static async Task DropAsync(NpgsqlConnection source, TaskDefinition task, CancellationToken ct)
    {
        await source.ExecuteAsync($"DROP TABLE IF EXISTS {Name(task).Sql}", ct).ConfigureAwait(false);
        await HelperSchema.DropIfEmptyAsync(source, ct).ConfigureAwait(false);
    }
}
