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
    /// Creates the table (and the helper schema) on the source when missing. Returns null when the heartbeat row is in
    /// use, else why it cannot be (the stream then runs without a heartbeat, and says so).
    /// </summary>
    public static async Task<string?> EnsureAsync(NpgsqlConnection source, TaskDefinition task, CancellationToken ct)
    {
        var name = Name(task);
        if (await ExistsAsync(source, task, ct).ConfigureAwait(false)) return null;
        // A FOR ALL TABLES publication would take the new table too, and its subscribers, lacking it, would stop.
        var allTables = await source.ScalarAsync<string>(
            "SELECT coalesce(string_agg(pubname, ', ' ORDER BY pubname), '') FROM pg_publication WHERE puballtables", ct).ConfigureAwait(false);
        if (allTables.Length > 0)
            return $"the source has FOR ALL TABLES publications ({allTables}), whose subscribers would receive the heartbeat table {name} and fail on it";
        try
        {
            await HelperSchema.EnsureAsync(source, ct).ConfigureAwait(false);
            await source.ExecuteAsync($"""
                CREATE TABLE IF NOT EXISTS {name.Sql} (id int PRIMARY KEY CHECK (id = 1), beat_at timestamptz NOT NULL);
                INSERT INTO {name.Sql} VALUES (1, now()) ON CONFLICT (id) DO NOTHING
                """, ct).ConfigureAwait(false);
            return null;
        }
        catch (PostgresException e) when (e.SqlState is "42501")
        {
            return $"the source user may not create the heartbeat table {name} ({e.MessageText}); GRANT CREATE ON DATABASE to it, " +
                $"or create the schema {TaskNaming.HelperSchema} owned by it";
        }
    }

    /// <summary>The source's time in a beat as pgoutput sends it (timestamptz text), or in a heartbeat message.</summary>
    public static bool TryParseBeat(string text, out DateTimeOffset at) =>
        DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out at);

    /// <summary>True when the table exists on the source.</summary>
    public static Task<bool> ExistsAsync(NpgsqlConnection source, TaskDefinition task, CancellationToken ct) =>
        HelperSchema.HasTableAsync(source, TaskNaming.HeartbeatTable(task), ct);

    /// <summary>
    /// Writes a beat and returns a position inside its transaction, before its commit: every transaction that committed
    /// before this call has a lower commit position, and this beat's own commit a higher one.
    /// </summary>
    public static async Task<SyncLsn> BeatAsync(NpgsqlConnection source, TaskDefinition task, CancellationToken ct)
    {
        await using var transaction = await source.BeginTransactionAsync(ct).ConfigureAwait(false);
        // An upsert, so that a deleted row or a truncated table cannot silence the heartbeat.
        await using var command = new NpgsqlCommand(
            $"INSERT INTO {Name(task).Sql} VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at; SELECT pg_current_wal_insert_lsn()::text", source, transaction);
        var position = SyncLsn.Parse((string)(await command.ExecuteScalarAsync(ct).ConfigureAwait(false))!);
        await transaction.CommitAsync(ct).ConfigureAwait(false);
        return position;
    }

    /// <summary>Drops the table, and the helper schema when nothing else is left in it (and the user may drop it).</summary>
    public static async Task DropAsync(NpgsqlConnection source, TaskDefinition task, CancellationToken ct)
    {
        if (!await ExistsAsync(source, task, ct).ConfigureAwait(false)) return;
        await source.ExecuteAsync($"DROP TABLE IF EXISTS {Name(task).Sql}", ct).ConfigureAwait(false);
        await HelperSchema.DropIfEmptyAsync(source, ct).ConfigureAwait(false);
    }
}
