using System.Buffers;
using Npgsql;
using Sync.Engine.Connections;
using Sync.Engine.Catalog;

namespace Sync.Engine.Snapshot;

/// <summary>
/// Streams one range from a source COPY TO STDOUT into a destination COPY FROM STDIN through one fixed buffer, so
/// memory does not grow with table or row size. Binary format unless a column's binary form embeds type OIDs that
/// differ between servers (then text, with both sessions set to the same date, float and bytea output settings).
/// The range's rows and its record in the progress table commit in one destination transaction.
/// </summary>
public static class RangeCopier
{
    public const int BufferSize = 128 * 1024;

    public static async Task<(long Rows, long Bytes)> CopyAsync(NpgsqlConnection source, NpgsqlConnection destination, CopyJob job,
        CopyProgressTable progressTable, SyncLsn snapshotLsn, ConflictPolicy policy, FlowLimiter limiter, ICopyProgress progress, CancellationToken ct)
    {
        var table = job.Table;
        var sourceColumns = string.Join(", ", table.CopyColumns.Select(c => Identifier.Quote(c.Name)));
        var destinationColumns = string.Join(", ", table.CopyColumns.Select(c => Identifier.Quote(table.DestinationColumn(c.Name))));
        var conditions = new[] { job.Range.Condition, table.RowFilter is null ? null : $"({table.RowFilter})" }.Where(c => c is not null).ToArray();
        var where = conditions.Length == 0 ? "" : " WHERE " + string.Join(" AND ", conditions);
        var text = table.UsesTextCopy;
        var format = text ? "" : " (FORMAT binary)";
        var select = $"COPY (SELECT {sourceColumns} FROM ONLY {table.Name.Sql}{where}) TO STDOUT{format}";

        var target = table.Destination.Sql;
        var key = table.Source.PrimaryKey?.Columns;
        var staging = job.Staging && key is { Count: > 0 } && policy != ConflictPolicy.Fail;
        await using var transaction = await destination.BeginTransactionAsync(ct).ConfigureAwait(false);
        if (staging)
        {
            target = Identifier.Quote("sync_stage");
            await destination.ExecuteAsync($"CREATE TEMP TABLE IF NOT EXISTS {target} (LIKE {table.Destination.Sql}) ON COMMIT DROP", ct).ConfigureAwait(false);
        }
        progress.RangeStarted(job);
        var (rows, bytes) = text
            ? await PumpTextAsync(source, destination, select, $"COPY {target} ({destinationColumns}) FROM STDIN", job, limiter, progress, ct).ConfigureAwait(false)
            : await PumpBinaryAsync(source, destination, select, $"COPY {target} ({destinationColumns}) FROM STDIN (FORMAT binary)", job, limiter, progress, ct).ConfigureAwait(false);
        if (staging)
        {
            var conflict = string.Join(", ", key!.Select(k => Identifier.Quote(table.DestinationColumn(k))));
            var action = policy == ConflictPolicy.Ignore
                ? "DO NOTHING"
                : "DO UPDATE SET " + string.Join(", ", table.CopyColumns.Where(c => !key!.Contains(c.Name))
                    .Select(c => $"{Identifier.Quote(table.DestinationColumn(c.Name))} = EXCLUDED.{Identifier.Quote(table.DestinationColumn(c.Name))}")
                    .DefaultIfEmpty($"{conflict.Split(", ")[0]} = EXCLUDED.{conflict.Split(", ")[0]}"));
            await destination.ExecuteAsync($"INSERT INTO {table.Destination.Sql} ({destinationColumns}) SELECT {destinationColumns} FROM {target} ON CONFLICT ({conflict}) {action}", ct).ConfigureAwait(false);
        }
        await using (var record = progressTable.RecordCommand(destination, table.Name.ToString(), job.Range.Index, rows, bytes, snapshotLsn))
            await record.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        await transaction.CommitAsync(ct).ConfigureAwait(false);
        progress.RangeCommitted(job, rows, bytes);
        return (rows, bytes);
    }

    /// <summary>
    /// Two fixed buffers: while one is written to the destination, the next is read from the source, so both servers
    /// work at once instead of taking turns. Memory stays at two buffers whatever the table.
    /// </summary>
    private static async Task<(long, long)> PumpBinaryAsync(NpgsqlConnection source, NpgsqlConnection destination, string select, string insert,
        CopyJob job, FlowLimiter limiter, ICopyProgress progress, CancellationToken ct)
    {
        var buffers = new[] { ArrayPool<byte>.Shared.Rent(BufferSize), ArrayPool<byte>.Shared.Rent(BufferSize) };
        var scanner = new BinaryCopyScanner();
        long bytes = 0;
        try
        {
            await using var reader = await source.BeginRawBinaryCopyAsync(select, ct).ConfigureAwait(false);
            await using var writer = await destination.BeginRawBinaryCopyAsync(insert, ct).ConfigureAwait(false);
            var current = 0;
            var read = await reader.ReadAsync(buffers[current].AsMemory(0, BufferSize), ct).ConfigureAwait(false);
            while (read > 0)
            {
                var before = scanner.Rows;
                scanner.Feed(buffers[current].AsSpan(0, read));
                await limiter.WaitAsync(read, scanner.Rows - before, ct).ConfigureAwait(false);
                var write = writer.WriteAsync(buffers[current].AsMemory(0, read), ct).AsTask();
                var next = 1 - current;
                var nextRead = await reader.ReadAsync(buffers[next].AsMemory(0, BufferSize), ct).ConfigureAwait(false);
                await write.ConfigureAwait(false);
                bytes += read;
                progress.Transferred(job, read, scanner.Rows - before);
                current = next;
                read = nextRead;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffers[0]);
            ArrayPool<byte>.Shared.Return(buffers[1]);
        }
        return (scanner.Rows, bytes);
    }

    private static async Task<(long, long)> PumpTextAsync(NpgsqlConnection source, NpgsqlConnection destination, string select, string insert,
        CopyJob job, FlowLimiter limiter, ICopyProgress progress, CancellationToken ct)
    {
        const string textSettings = "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET bytea_output = 'hex'; SET TimeZone = 'UTC'";
        await source.ExecuteAsync(textSettings, ct).ConfigureAwait(false);
        await destination.ExecuteAsync(textSettings, ct).ConfigureAwait(false);
        var buffer = ArrayPool<char>.Shared.Rent(BufferSize / 2);
        long rows = 0, bytes = 0;
        try
        {
            using var reader = await source.BeginTextExportAsync(select, ct).ConfigureAwait(false);
            await using var writer = await destination.BeginTextImportAsync(insert, ct).ConfigureAwait(false);
            int read;
            while ((read = await reader.ReadAsync(buffer.AsMemory(0, BufferSize / 2), ct).ConfigureAwait(false)) > 0)
            {
                var lines = buffer.AsSpan(0, read).Count('\n');
                await limiter.WaitAsync(read, lines, ct).ConfigureAwait(false);
                await writer.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
                rows += lines;
                bytes += read;
                progress.Transferred(job, read, lines);
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
        return (rows, bytes);
    }
}
