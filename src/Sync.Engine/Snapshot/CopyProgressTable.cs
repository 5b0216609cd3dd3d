using Npgsql;
using Sync.Engine.Catalog;
using Sync.Engine.Tasks;

namespace Sync.Engine.Snapshot;

/// <summary>
/// The task's record on the destination of which ranges are copied, written in the same transaction as each range's
/// rows: after a crash it says exactly what committed, whatever the state file managed to mirror.
/// </summary>
public sealed class CopyProgressTable(TaskDefinition task)
{
    public QualifiedName Name { get; } = new(TaskNaming.HelperSchema, TaskNaming.CopyProgressTable(task));

    public async Task EnsureAsync(NpgsqlConnection destination, CancellationToken ct)
    {
        await Schema.HelperSchema.EnsureAsync(destination, ct).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            $"CREATE TABLE IF NOT EXISTS {Name.Sql} (source_table text NOT NULL, range_index int NOT NULL, row_count bigint NOT NULL, " +
            "byte_count bigint NOT NULL, snapshot_lsn pg_lsn NOT NULL, done_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source_table, range_index))",
            destination);
        try { await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false); }
        catch (PostgresException e) when (e.SqlState is "23505" or "42P06" or "42P07")
        {
            // Another task created the shared helper schema at the same moment; the table is ours and now exists or is retried.
            await using var retry = new NpgsqlCommand(command.CommandText, destination);
            await retry.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>Committed ranges per source table: index → (rows, bytes, snapshot LSN).</summary>
    public async Task<Dictionary<string, Dictionary<int, (long Rows, long Bytes, string Lsn)>>> ReadAsync(NpgsqlConnection destination, CancellationToken ct)
    {
        var result = new Dictionary<string, Dictionary<int, (long, long, string)>>(StringComparer.Ordinal);
        await using var command = new NpgsqlCommand($"SELECT source_table, range_index, row_count, byte_count, snapshot_lsn::text FROM {Name.Sql}", destination);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            var table = reader.GetString(0);
            if (!result.TryGetValue(table, out var ranges)) result[table] = ranges = [];
            ranges[reader.GetInt32(1)] = (reader.GetInt64(2), reader.GetInt64(3), reader.GetString(4));
        }
        return result;
    }

    public NpgsqlCommand RecordCommand(NpgsqlConnection destination, string sourceTable, int range, long rows, long bytes, SyncLsn lsn)
    {
        var command = new NpgsqlCommand(
            $"INSERT INTO {Name.Sql} (source_table, range_index, row_count, byte_count, snapshot_lsn) VALUES ($1, $2, $3, $4, $5::pg_lsn) " +
            "ON CONFLICT (source_table, range_index) DO UPDATE SET row_count = EXCLUDED.row_count, byte_count = EXCLUDED.byte_count, snapshot_lsn = EXCLUDED.snapshot_lsn, done_at = now()",
            destination);
        command.Parameters.AddWithValue(sourceTable);
        command.Parameters.AddWithValue(range);
        command.Parameters.AddWithValue(rows);
        command.Parameters.AddWithValue(bytes);
        command.Parameters.AddWithValue(lsn.ToString());
        return command;
    }

    /// <summary>Forgets a table's ranges (in the caller's transaction, with the TRUNCATE that empties it).</summary>
    public async Task ForgetAsync(NpgsqlConnection destination, string sourceTable, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"DELETE FROM {Name.Sql} WHERE source_table = $1", destination);
        command.Parameters.AddWithValue(sourceTable);
        await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }
}
