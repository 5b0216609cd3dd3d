using Npgsql;
using Sync.Engine.Connections;
using Npgsql.Replication;
using Sync.Engine.Catalog;
using Sync.Engine.Schema;
using Sync.Engine.Tasks;

namespace Sync.Engine.Stream;

/// <summary>The task's publication and slot on the source: created before the slot, kept in step with the scope.</summary>
public static class PublicationManager
{
    /// <summary>
    /// Creates the publication, or sets its tables to the scope's (with row filters on PostgreSQL 15+), plus the
    /// heartbeat table where the source needs one (before 14). Returns whether the publication carries the heartbeat
    /// table, and if one is needed but cannot be had, why.
    /// </summary>
    public static async Task<(bool Heartbeat, string? WhyNot)> EnsureAsync(NpgsqlConnection source, TaskDefinition task, TaskScope scope, CancellationToken ct)
    {
        var name = Identifier.Quote(TaskNaming.PublicationName(task));
        var filters = source.PostgreSqlVersion.Major >= 15;
        var tables = scope.DataTables.Select(t => t.Name.Sql + (filters && t.RowFilter is not null ? $" WHERE ({t.RowFilter})" : "")).ToList();
        if (tables.Count == 0)
            throw new Diagnostics.SyncException(Diagnostics.ErrorIds.PrecheckFailed, Diagnostics.SyncErrorCategory.InvalidOperation,
                $"Task '{task.Name}' selects no table on the source; there is nothing to stream. Check -Schema and -Table.", task.Name);
        var whyNot = HeartbeatTable.Needed(StreamFeatures.EffectiveVersion(source.PostgreSqlVersion.Major))
            ? await HeartbeatTable.EnsureAsync(source, task, ct).ConfigureAwait(false)
            : "";
        var heartbeat = whyNot is null;
        if (heartbeat) tables.Add(HeartbeatTable.Name(task).Sql);
        var exists = await source.ScalarAsync<long>("SELECT count(*) FROM pg_publication WHERE pubname = $1", ct, TaskNaming.PublicationName(task)).ConfigureAwait(false) > 0;
        var sql = exists
            ? $"ALTER PUBLICATION {name} SET TABLE {string.Join(", ", tables)}"
            : $"CREATE PUBLICATION {name} FOR TABLE {string.Join(", ", tables)} WITH (publish = 'insert, update, delete, truncate')";
        await using var command = new NpgsqlCommand(sql, source);
        await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        return (heartbeat, whyNot is "" ? null : whyNot);
    }

    public static async Task<bool> SlotExistsAsync(NpgsqlConnection source, string slot, CancellationToken ct) =>
        await source.ScalarAsync<long>("SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", ct, slot).ConfigureAwait(false) > 0;

    /// <summary>
    /// A slot of the task's name that its state does not know, left by a worker killed between the server making it and
    /// the worker recording it: where it was made (its confirmed position, for a slot never streamed from), or null when
    /// the source has none. One still being made or still held by the killed worker's walsender is busy (retried); one
    /// of this name in another database or for another plugin is not the task's, and is left alone.
    /// </summary>
    public static async Task<SyncLsn?> UnrecordedSlotAsync(NpgsqlConnection source, TaskDefinition task, string slot, CancellationToken ct)
    {
        var lost = source.PostgreSqlVersion.Major >= 13 ? "wal_status = 'lost'" : "false";
        await using var command = new NpgsqlCommand(
            $"SELECT database = current_database() AND plugin = 'pgoutput', active_pid, confirmed_flush_lsn::text, {lost} FROM pg_replication_slots WHERE slot_name = $1", source);
        command.Parameters.AddWithValue(slot);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        if (!await reader.ReadAsync(ct).ConfigureAwait(false)) return null;
        if (reader.IsDBNull(0) || !reader.GetBoolean(0))
            throw new Diagnostics.SyncException(Diagnostics.ErrorIds.ServerError, Diagnostics.SyncErrorCategory.ResourceExists,
                $"Task '{task.Name}' cannot make its replication slot {slot} on the source {task.Source}: a slot of that name exists for another database or plugin, and it is not this task's. " +
                $"Drop it (SELECT pg_drop_replication_slot('{slot}')) if nobody uses it, or remove this task and create it again (its slot then gets another name).", task.Name);
        if (!reader.IsDBNull(1) || reader.IsDBNull(2))
            throw new Diagnostics.SyncException(Diagnostics.ErrorIds.ServerError, Diagnostics.SyncErrorCategory.ResourceBusy,
                $"Task '{task.Name}': replication slot {slot} on the source, made by an earlier attempt that ended before recording it, is " +
                (reader.IsDBNull(1) ? "not finished yet" : $"still held by source process {reader.GetInt32(1)} (the walsender of that attempt)") + "; retrying.",
                task.Name, retriable: true);
        if (reader.GetBoolean(3))
            throw new Diagnostics.SyncException(Diagnostics.ErrorIds.ReplicationSlotMissing, Diagnostics.SyncErrorCategory.ObjectNotFound,
                $"Task '{task.Name}': replication slot {slot} on the source, made by an earlier attempt that ended before recording it, has lost the WAL it needs (max_slot_wal_keep_size). " +
                $"Drop it (SELECT pg_drop_replication_slot('{slot}')) and start the task again.", task.Name);
        return SyncLsn.Parse(reader.GetString(2));
    }

    /// <summary>Drops a slot, waiting up to 5 s for the walsender of a killed or terminated client to let go of it.</summary>
    public static async Task DropSlotAsync(NpgsqlConnection source, string slot, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await source.ExecuteAsync("SELECT pg_drop_replication_slot($1)", ct, slot).ConfigureAwait(false);
                return;
            }
            catch (PostgresException e) when (e.SqlState == "55006" && attempt < 50)
            {
                await Task.Delay(100, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Creates the task's slot without a snapshot (Incremental tasks stream from the moment they start).</summary>
    public static async Task<SyncLsn> CreateSlotAsync(string replicationConnectionString, string slot, CancellationToken ct)
    {
        await using var connection = new LogicalReplicationConnection(replicationConnectionString);
        await connection.Open(ct).ConfigureAwait(false);
        var created = await connection.CreatePgOutputReplicationSlot(slot, slotSnapshotInitMode: LogicalSlotSnapshotInitMode.NoExport, cancellationToken: ct).ConfigureAwait(false);
        return new SyncLsn((ulong)created.ConsistentPoint);
    }

    /// <summary>Drops the task's slots and publication; returns what could not be dropped, with the SQL to do it.</summary>
    public static async Task<IReadOnlyList<string>> DropAsync(NpgsqlDataSource source, TaskDefinition task, bool heartbeatTable, CancellationToken ct)
    {
        var left = new List<string>();
        try
        {
            await using var connection = await source.OpenConnectionAsync(ct).ConfigureAwait(false);
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await using var drop = new NpgsqlCommand(
                        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 OR slot_name LIKE $2", connection);
                    drop.Parameters.AddWithValue(TaskNaming.SlotName(task));
                    drop.Parameters.AddWithValue(TaskNaming.SlotName(task).Replace("_", "\\_", StringComparison.Ordinal) + "\\_t%");
                    await drop.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                    break;
                }
                catch (PostgresException e) when (e.SqlState == "55006" && attempt < 50)
                {
                    await Task.Delay(100, ct).ConfigureAwait(false);
                }
            }
            await using var publication = new NpgsqlCommand($"DROP PUBLICATION IF EXISTS {Identifier.Quote(TaskNaming.PublicationName(task))}", connection);
            await publication.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            if (heartbeatTable)
            {
                // Apart from the slot and publication: failing to drop the table must not report those as left.
                try { await HeartbeatTable.DropAsync(connection, task, ct).ConfigureAwait(false); }
                catch (PostgresException e)
                {
                    left.Add(Runtime.ServerObjectCleaner.ExpectedObjects(task, Diagnostics.ErrorClassifier.Describe(e), heartbeatTable: true)
                        .Single(o => o.Kind == "Table" && o.Side == ServerSide.Source).ToString());
                }
            }
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            left.AddRange(Runtime.ServerObjectCleaner.ExpectedObjects(task, Diagnostics.ErrorClassifier.Classify(e).Message, heartbeatTable)
                .Where(o => o.Side == ServerSide.Source).Select(o => o.ToString()));
        }
        return left;
    }
}
