using Npgsql;
using Sync.Engine.Catalog;
using Sync.Engine.Connections;
using Sync.Engine.Diagnostics;
using Sync.Engine.Schema;
using Sync.Engine.Tasks;

namespace Sync.Engine.Runtime;

/// <summary>
/// Removes everything a task may have created on its servers. Names are derived from the task (not from a
/// list kept in its state), so objects made just before a crash are found too. Whatever cannot be removed
/// is reported with the SQL that removes it.
/// </summary>
public sealed class ServerObjectCleaner(ConnectionFactory connections)
{
    /// <summary>Drops the task's objects on both servers. <paramref name="heartbeatTable"/>: the task made a heartbeat table on the source (its state says so), so an unreachable source lists it as left.</summary>
    public async Task<CleanupReport> RemoveAllAsync(TaskDefinition task, CancellationToken cancellationToken, bool heartbeatTable = false)
    {
        var removed = new List<string>();
        var left = new List<LeftoverObject>();
        await CleanSourceAsync(task, heartbeatTable, removed, left, cancellationToken).ConfigureAwait(false);
        await CleanDestinationAsync(task, removed, left, cancellationToken).ConfigureAwait(false);
        return new CleanupReport { Removed = removed, LeftBehind = left };
    }

    /// <summary>The SQL an admin would run to remove the task's objects by hand; with <paramref name="heartbeatTable"/>, the source's heartbeat table too (only tasks on sources before PostgreSQL 14 have one).</summary>
    public static IReadOnlyList<LeftoverObject> ExpectedObjects(TaskDefinition task, string reason, bool heartbeatTable = false)
    {
        var prefix = TaskNaming.Prefix(task);
        var src = task.Source.ToString();
        var dst = task.Destination.ToString();
        List<LeftoverObject> objects =
        [
            new(ServerSide.Source, "ReplicationSlot", prefix, src, reason,
                $"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE {Identifier.Literal(prefix + "%")};"),
            new(ServerSide.Source, "Publication", prefix, src, reason, $"DROP PUBLICATION IF EXISTS {Identifier.Quote(prefix)};"),
            new(ServerSide.Destination, "ReplicationOrigin", prefix, dst, reason,
                $"SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = {Identifier.Literal(prefix)};"),
            new(ServerSide.Destination, "Table", $"{TaskNaming.HelperSchema}.{TaskNaming.CopyProgressTable(task)}", dst, reason,
                $"DROP TABLE IF EXISTS {new QualifiedName(TaskNaming.HelperSchema, TaskNaming.CopyProgressTable(task)).Sql};"),
            new(ServerSide.Destination, "Table", $"{TaskNaming.HelperSchema}.{TaskNaming.CheckpointTable(task)}", dst, reason,
                $"DROP TABLE IF EXISTS {new QualifiedName(TaskNaming.HelperSchema, TaskNaming.CheckpointTable(task)).Sql};"),
        ];
        if (heartbeatTable)
            objects.Insert(2, new(ServerSide.Source, "Table", $"{TaskNaming.HelperSchema}.{TaskNaming.HeartbeatTable(task)}", src, reason,
                $"DROP TABLE IF EXISTS {new QualifiedName(TaskNaming.HelperSchema, TaskNaming.HeartbeatTable(task)).Sql};"));
        return objects;
    }

    private async Task CleanSourceAsync(TaskDefinition task, bool heartbeatTable, List<string> removed, List<LeftoverObject> left, CancellationToken ct)
    {
        var prefix = TaskNaming.Prefix(task);
        NpgsqlConnection connection;
        try { connection = await OpenAsync(task.Source, ServerSide.Source, task, ct).ConfigureAwait(false); }
        catch (SyncException e)
        {
            left.AddRange(ExpectedObjects(task, e.Message, heartbeatTable).Where(o => o.Side == ServerSide.Source));
            return;
        }
        await using (connection.ConfigureAwait(false))
        {
            var slots = new List<(string Name, int? Pid)>();
            await using (var cmd = new NpgsqlCommand(
                "SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = current_database() AND (slot_name = $1 OR slot_name LIKE $2)", connection))
            {
                cmd.Parameters.AddWithValue(prefix);
                cmd.Parameters.AddWithValue(prefix.Replace("_", "\\_", StringComparison.Ordinal) + "\\_t%");
                await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                    slots.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetInt32(1)));
            }
            foreach (var (slot, pid) in slots)
                await TryAsync(removed, left, ServerSide.Source, "ReplicationSlot", slot, task.Source.ToString(),
                    $"SELECT pg_drop_replication_slot({Identifier.Literal(slot)});", async () =>
                    {
                        if (pid is { } active)
                            await connection.ExecuteAsync("SELECT pg_terminate_backend($1)", ct, active).ConfigureAwait(false);
                        await Stream.PublicationManager.DropSlotAsync(connection, slot, ct).ConfigureAwait(false);
                    }).ConfigureAwait(false);
            var hasPublication = await connection.ScalarAsync<long>("SELECT count(*) FROM pg_publication WHERE pubname = $1", ct, prefix).ConfigureAwait(false) > 0;
            if (hasPublication)
                await TryAsync(removed, left, ServerSide.Source, "Publication", prefix, task.Source.ToString(),
                    $"DROP PUBLICATION IF EXISTS {Identifier.Quote(prefix)};",
                    () => connection.ExecuteAsync($"DROP PUBLICATION IF EXISTS {Identifier.Quote(prefix)}", ct)).ConfigureAwait(false);
            await DropHelperTablesAsync(connection, ServerSide.Source, task.Source.ToString(), [TaskNaming.HeartbeatTable(task)], removed, left, ct).ConfigureAwait(false);
        }
    }

    private async Task CleanDestinationAsync(TaskDefinition task, List<string> removed, List<LeftoverObject> left, CancellationToken ct)
    {
        var prefix = TaskNaming.Prefix(task);
        NpgsqlConnection connection;
        try { connection = await OpenAsync(task.Destination, ServerSide.Destination, task, ct).ConfigureAwait(false); }
        catch (SyncException e)
        {
            left.AddRange(ExpectedObjects(task, e.Message).Where(o => o.Side == ServerSide.Destination));
            return;
        }
        await using (connection.ConfigureAwait(false))
        {
            var hasOrigin = await connection.ScalarAsync<long>("SELECT count(*) FROM pg_replication_origin WHERE roname = $1", ct, prefix).ConfigureAwait(false) > 0;
            if (hasOrigin)
                await TryAsync(removed, left, ServerSide.Destination, "ReplicationOrigin", prefix, task.Destination.ToString(),
                    $"SELECT pg_replication_origin_drop({Identifier.Literal(prefix)});",
                    () => connection.ExecuteAsync("SELECT pg_replication_origin_drop($1)", ct, prefix)).ConfigureAwait(false);
            await DropHelperTablesAsync(connection, ServerSide.Destination, task.Destination.ToString(),
                [TaskNaming.CopyProgressTable(task), TaskNaming.CheckpointTable(task)], removed, left, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Drops the task's helper tables on one server, then the helper schema if it is empty (it is shared by the tasks
    /// using that database).
    /// </summary>
    private static async Task DropHelperTablesAsync(NpgsqlConnection connection, ServerSide side, string server, IEnumerable<string> tables,
        List<string> removed, List<LeftoverObject> left, CancellationToken ct)
    {
        var dropped = false;
        foreach (var table in tables)
        {
            var name = new QualifiedName(TaskNaming.HelperSchema, table);
            if (await HelperSchema.HasTableAsync(connection, table, ct).ConfigureAwait(false))
            {
                await TryAsync(removed, left, side, "Table", name.ToString(), server,
                    $"DROP TABLE IF EXISTS {name.Sql};", () => connection.ExecuteAsync($"DROP TABLE IF EXISTS {name.Sql}", ct)).ConfigureAwait(false);
                dropped = true;
            }
        }
        // On the source the schema is the tasks' only where a heartbeat table was in it; an empty schema of that name
        // found there otherwise is someone else's.
        if ((dropped || side == ServerSide.Destination) && await HelperSchema.IsEmptyAsync(connection, ct).ConfigureAwait(false))
            await TryAsync(removed, left, side, "Schema", TaskNaming.HelperSchema, server,
                HelperSchema.DropSql + ";", () => connection.ExecuteAsync(HelperSchema.DropSql, ct)).ConfigureAwait(false);
    }

    private async Task<NpgsqlConnection> OpenAsync(EndpointDefinition endpoint, ServerSide side, TaskDefinition task, CancellationToken ct)
    {
        var builder = connections.Build(endpoint, $"sync:{task.Name}:cleanup");
        builder.Pooling = false;
        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(ct).ConfigureAwait(false);
            return connection;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw ConnectionFactory.ConnectionError(side, endpoint, e);
        }
    }

    private static async Task TryAsync(List<string> removed, List<LeftoverObject> left, ServerSide side, string kind, string name,
        string endpoint, string sql, Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
            removed.Add($"{kind} {name} on the {side.ToString().ToLowerInvariant()} {endpoint}");
        }
        catch (Exception e) when (e is NpgsqlException or SyncException)
        {
            left.Add(new LeftoverObject(side, kind, name, endpoint, ErrorClassifier.Classify(e).Message, sql));
        }
    }
}
