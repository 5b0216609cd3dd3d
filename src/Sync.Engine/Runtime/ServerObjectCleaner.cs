using Npgsql;
using Sync.Engine.Catalog;
using Sync.Engine.Connections;
using Sync.Engine.Diagnostics;
using Sync.Engine.Tasks;

namespace Sync.Engine.Runtime;

/// <summary>
/// Removes everything a task may have created on its servers. Names are derived from the task (not from a
/// list kept in its state), so objects made just before a crash are found too. Whatever cannot be removed
/// is reported with the SQL that removes it.
/// </summary>
public sealed class ServerObjectCleaner(ConnectionFactory connections)
{
    public async Task<CleanupReport> RemoveAllAsync(TaskDefinition task, CancellationToken cancellationToken)
    {
        var removed = new List<string>();
        var left = new List<LeftoverObject>();
        await CleanSourceAsync(task, removed, left, cancellationToken).ConfigureAwait(false);
        await CleanDestinationAsync(task, removed, left, cancellationToken).ConfigureAwait(false);
        return new CleanupReport { Removed = removed, LeftBehind = left };
    }

    /// <summary>The SQL an admin would run to remove the task's objects by hand.</summary>
    public static IReadOnlyList<LeftoverObject> ExpectedObjects(TaskDefinition task, string reason)
    {
        var prefix = TaskNaming.Prefix(task);
        var src = task.Source.ToString();
        var dst = task.Destination.ToString();
        return
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
    }

    private async Task CleanSourceAsync(TaskDefinition task, List<string> removed, List<LeftoverObject> left, CancellationToken ct)
    {
        var prefix = TaskNaming.Prefix(task);
        NpgsqlConnection connection;
        try { connection = await OpenAsync(task.Source, ServerSide.Source, task, ct).ConfigureAwait(false); }
        catch (SyncException e)
        {
            left.AddRange(ExpectedObjects(task, e.Message).Where(o => o.Side == ServerSide.Source));
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
                        await DropSlotAsync(connection, slot, ct).ConfigureAwait(false);
                    }).ConfigureAwait(false);
            var hasPublication = await connection.ScalarAsync<long>("SELECT count(*) FROM pg_publication WHERE pubname = $1", ct, prefix).ConfigureAwait(false) > 0;
            if (hasPublication)
                await TryAsync(removed, left, ServerSide.Source, "Publication", prefix, task.Source.ToString(),
                    $"DROP PUBLICATION IF EXISTS {Identifier.Quote(prefix)};",
                    () => connection.ExecuteAsync($"DROP PUBLICATION IF EXISTS {Identifier.Quote(prefix)}", ct)).ConfigureAwait(false);
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
            foreach (var table in new[] { TaskNaming.CopyProgressTable(task), TaskNaming.CheckpointTable(task) })
            {
                var name = new QualifiedName(TaskNaming.HelperSchema, table);
                var exists = await connection.ScalarAsync<long>(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2", ct,
                    TaskNaming.HelperSchema, table).ConfigureAwait(false) > 0;
                if (exists)
                    await TryAsync(removed, left, ServerSide.Destination, "Table", name.ToString(), task.Destination.ToString(),
                        $"DROP TABLE IF EXISTS {name.Sql};", () => connection.ExecuteAsync($"DROP TABLE IF EXISTS {name.Sql}", ct)).ConfigureAwait(false);
            }
            // The helper schema is shared by the tasks writing to this database: drop it only when it is empty.
            var schemaEmpty = await connection.ScalarAsync<long>(
                "SELECT count(*) FROM pg_namespace n WHERE n.nspname = $1 AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid) " +
                "AND NOT EXISTS (SELECT 1 FROM pg_type t WHERE t.typnamespace = n.oid) AND NOT EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = n.oid)", ct,
                TaskNaming.HelperSchema).ConfigureAwait(false) > 0;
            if (schemaEmpty)
                await TryAsync(removed, left, ServerSide.Destination, "Schema", TaskNaming.HelperSchema, task.Destination.ToString(),
                    $"DROP SCHEMA IF EXISTS {Identifier.Quote(TaskNaming.HelperSchema)};",
                    () => connection.ExecuteAsync($"DROP SCHEMA IF EXISTS {Identifier.Quote(TaskNaming.HelperSchema)}", ct)).ConfigureAwait(false);
        }
    }

    /// <summary>Drops a slot, waiting briefly for a terminated walsender to let go of it.</summary>
    private static async Task DropSlotAsync(NpgsqlConnection connection, string slot, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await connection.ExecuteAsync("SELECT pg_drop_replication_slot($1)", ct, slot).ConfigureAwait(false);
                return;
            }
            catch (PostgresException e) when (e.SqlState == "55006" && attempt < 50)
            {
                await Task.Delay(100, ct).ConfigureAwait(false);
            }
        }
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
