using System.Diagnostics;
using Npgsql;
using Sync.Engine.Catalog;
using Sync.Engine.Diagnostics;
using Sync.Engine.Schema;

namespace Sync.Engine.Compare;

/// <summary>
/// Compares a table on both servers at increasing depth. Rows are hashed into buckets by their key (or by the whole
/// row when there is no key); each server computes count and checksum per bucket in one scan, in parallel; a differing
/// bucket that holds many rows is narrowed down the same way into sub-buckets (another part of the key's hash), and only
/// the buckets or sub-buckets that differ are read row by row, by key. Both sessions use the same text output settings,
/// so equal values hash equally on both servers.
/// </summary>
public sealed class TableComparer(NpgsqlDataSource source, NpgsqlDataSource destination)
{
    /// <summary>Buckets per table at most (about 500 rows each below that).</summary>
    internal int MaxBuckets { get; init; } = 4096;
    /// <summary>A differing bucket with more rows than this is narrowed into <see cref="SubBuckets"/> before rows are read.</summary>
    internal int NarrowAbove { get; init; } = 2000;
    internal const int SubBuckets = 64;
    /// <summary>When more sub-buckets than this differ, the whole bucket is read in one scan instead of one scan each.</summary>
    internal const int MaxSubBucketReads = 8;

    private const string SessionSettings =
        "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET bytea_output = 'hex'; SET TimeZone = 'UTC'; SET search_path = pg_catalog";

    public async Task<TableComparisonResult> CompareAsync(ScopedTable table, ComparisonLevel level, int sampleSize, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var result = new TableComparisonResult { SourceTable = table.Name.ToString(), DestinationTable = table.Destination.ToString(), Level = level };
        try
        {
            var src = SideQuery.ForSource(table);
            var dst = SideQuery.ForDestination(table);
            var counts = await BothAsync(c => CountAsync(c, src, ct), c => CountAsync(c, dst, ct), ct).ConfigureAwait(false);
            result = result with { SourceRows = counts.Source, DestinationRows = counts.Destination };
            if (level == ComparisonLevel.RowCount)
                return Done(result with { Result = counts.Source == counts.Destination ? ComparisonResult.Equal : ComparisonResult.Different }, clock);

            var buckets = (int)Math.Clamp(Math.Max(counts.Source, counts.Destination) / 500, 1, MaxBuckets);
            var sums = await BothAsync(c => BucketsAsync(c, src, buckets, ct), c => BucketsAsync(c, dst, buckets, ct), ct).ConfigureAwait(false);
            var differing = sums.Source.Keys.Union(sums.Destination.Keys)
                .Where(b => !sums.Source.TryGetValue(b, out var s) || !sums.Destination.TryGetValue(b, out var d) || s != d)
                .Order().ToList();
            result = result with { Buckets = buckets, DifferingBuckets = differing.Count };
            if (differing.Count == 0) return Done(result with { Result = ComparisonResult.Equal }, clock);
            if (level == ComparisonLevel.Checksum) return Done(result with { Result = ComparisonResult.Different }, clock);

            long missing = 0, extra = 0, changed = 0, read = 0;
            var samples = new List<RowDifference>();
            foreach (var bucket in differing)
            {
                var size = Math.Max(sums.Source.GetValueOrDefault(bucket).Count, sums.Destination.GetValueOrDefault(bucket).Count);
                var cells = size > NarrowAbove
                    ? await DifferingSubBucketsAsync(src, dst, buckets, bucket, ct).ConfigureAwait(false)
                    : [(SideQuery s) => s.InBucket(buckets, bucket)];
                foreach (var cell in cells)
                {
                    var rows = await BothAsync(c => RowsAsync(c, src, cell(src), ct), c => RowsAsync(c, dst, cell(dst), ct), ct).ConfigureAwait(false);
                    read += rows.Source.Count + rows.Destination.Count;
                    foreach (var difference in Diff(rows.Source, rows.Destination, table.Source.PrimaryKey is not null))
                {
                        switch (difference.Kind)
                        {
                            case "Missing": missing++; break;
                            case "Extra": extra++; break;
                            default: changed++; break;
                        }
                        if (samples.Count < sampleSize) samples.Add(difference);
                    }
                }
            }
            return Done(result with
            {
                Result = missing + extra + changed == 0 ? ComparisonResult.Equal : ComparisonResult.Different,
                MissingRows = missing, ExtraRows = extra, ChangedRows = changed, Samples = samples, RowsRead = read,
            }, clock);
        }
        catch (PostgresException e) when (e.SqlState == "42P01")
        {
            // Still say how many rows the destination lacks: the source side is readable.
            long? sourceRows = null;
            try
            {
                await using var connection = await source.OpenConnectionAsync(ct).ConfigureAwait(false);
                sourceRows = await CountAsync(connection, SideQuery.ForSource(table), ct).ConfigureAwait(false);
            }
            catch (NpgsqlException) { }
            return Done(result with
            {
                Result = sourceRows is null ? ComparisonResult.Error : ComparisonResult.MissingOnDestination,
                SourceRows = sourceRows ?? 0, MissingRows = sourceRows ?? 0, Error = ErrorClassifier.Describe(e),
            }, clock);
        }
        catch (Exception e) when (e is NpgsqlException or SyncException)
        {
            return Done(result with { Result = ComparisonResult.Error, Error = ErrorClassifier.Classify(e).Message }, clock);
        }
    }

    private static TableComparisonResult Done(TableComparisonResult result, Stopwatch clock) => result with { Duration = clock.Elapsed };

    private async Task<(T Source, T Destination)> BothAsync<T>(Func<NpgsqlConnection, Task<T>> onSource, Func<NpgsqlConnection, Task<T>> onDestination, CancellationToken ct)
    {
        async Task<T> Run(NpgsqlDataSource dataSource, Func<NpgsqlConnection, Task<T>> work)
        {
            await using var connection = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
            await using (var settings = new NpgsqlCommand(SessionSettings, connection))
                await settings.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return await work(connection).ConfigureAwait(false);
        }
        var s = Run(source, onSource);
        var d = Run(destination, onDestination);
        await Task.WhenAll(s, d).ConfigureAwait(false);
        return (s.Result, d.Result);
    }

    private static async Task<long> CountAsync(NpgsqlConnection connection, SideQuery side, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"SELECT count(*) FROM ONLY {side.Table}{side.Where}", connection);
        return (long)(await command.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
    }

    private static async Task<Dictionary<int, (long Count, decimal Sum)>> BucketsAsync(NpgsqlConnection connection, SideQuery side, int buckets, CancellationToken ct)
    {
        var sql = $"SELECT {side.Bucket(buckets)} AS b, count(*), sum({side.RowHash}::numeric) FROM ONLY {side.Table} t{side.Where} GROUP BY 1";
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var result = new Dictionary<int, (long, decimal)>();
        while (await reader.ReadAsync(ct).ConfigureAwait(false)) result[reader.GetInt32(0)] = (reader.GetInt64(1), reader.GetDecimal(2));
        return result;
    }

    /// <summary>The sub-buckets of a large differing bucket whose count or checksum differ, as conditions for each side.</summary>
    private async Task<List<Func<SideQuery, string>>> DifferingSubBucketsAsync(SideQuery src, SideQuery dst, int buckets, int bucket, CancellationToken ct)
    {
        async Task<Dictionary<int, (long, decimal)>> Sums(NpgsqlConnection connection, SideQuery side)
        {
            var where = string.IsNullOrEmpty(side.Where) ? $" WHERE {side.InBucket(buckets, bucket)}" : $"{side.Where} AND {side.InBucket(buckets, bucket)}";
            await using var command = new NpgsqlCommand($"SELECT {side.SubBucket(SubBuckets)} AS s, count(*), sum({side.RowHash}::numeric) FROM ONLY {side.Table} t{where} GROUP BY 1", connection);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var result = new Dictionary<int, (long, decimal)>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false)) result[reader.GetInt32(0)] = (reader.GetInt64(1), reader.GetDecimal(2));
            return result;
        }
        var sums = await BothAsync(c => Sums(c, src), c => Sums(c, dst), ct).ConfigureAwait(false);
        var differing = sums.Source.Keys.Union(sums.Destination.Keys)
            .Where(s => !sums.Source.TryGetValue(s, out var a) || !sums.Destination.TryGetValue(s, out var b) || a != b)
            .Order().ToList();
        // Each sub-bucket read is a scan of the bucket's predicate: when differences are spread wide, one read of the
        // whole bucket costs less than many narrow ones.
        if (differing.Count > MaxSubBucketReads) return [side => side.InBucket(buckets, bucket)];
        return differing.Select(s => (Func<SideQuery, string>)(side => $"{side.InBucket(buckets, bucket)} AND {side.SubBucket(SubBuckets)} = {s}")).ToList();
    }

    private static async Task<List<(string Key, long Hash, string Row)>> RowsAsync(NpgsqlConnection connection, SideQuery side, string condition, CancellationToken ct)
    {
        var where = string.IsNullOrEmpty(side.Where) ? $" WHERE {condition}" : $"{side.Where} AND {condition}";
        var sql = $"SELECT {side.KeyText}, {side.RowHash}, {side.RowText} FROM ONLY {side.Table} t{where}";
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var rows = new List<(string, long, string)>();
        while (await reader.ReadAsync(ct).ConfigureAwait(false)) rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetString(2)));
        return rows;
    }

    /// <summary>Rows by key; without a key, the rows are multisets and only missing and extra copies exist.</summary>
    public static IEnumerable<RowDifference> Diff(IReadOnlyList<(string Key, long Hash, string Row)> source, IReadOnlyList<(string Key, long Hash, string Row)> destination, bool keyed)
    {
        if (keyed)
        {
            var target = destination.GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.First());
            var seen = new HashSet<string>();
            foreach (var row in source)
            {
                seen.Add(row.Key);
                if (!target.TryGetValue(row.Key, out var other)) yield return new RowDifference("Missing", row.Key, row.Row, null);
                else if (other.Hash != row.Hash) yield return new RowDifference("Changed", row.Key, row.Row, other.Row);
            }
            foreach (var row in destination.Where(r => !seen.Contains(r.Key))) yield return new RowDifference("Extra", row.Key, null, row.Row);
            yield break;
        }
        var counts = destination.GroupBy(r => r.Hash).ToDictionary(g => g.Key, g => g.Count());
        foreach (var row in source)
        {
            if (counts.TryGetValue(row.Hash, out var n) && n > 0) counts[row.Hash] = n - 1;
            else yield return new RowDifference("Missing", row.Row, row.Row, null);
        }
        foreach (var row in destination)
        {
            if (counts.TryGetValue(row.Hash, out var n) && n > 0)
            {
                counts[row.Hash] = n - 1;
                yield return new RowDifference("Extra", row.Row, null, row.Row);
            }
        }
    }

    /// <summary>The SQL pieces for one side: table, optional filter, key and row text, hashes.</summary>
    private sealed record SideQuery(string Table, string Where, string KeyText, string RowText)
    {
        public string RowHash => $"('x' || substr(md5({RowText}), 1, 16))::bit(64)::bigint";

        public string Bucket(int buckets) => $"(('x' || substr(md5({KeyText}), 1, 8))::bit(32)::bigint & 2147483647) % {buckets}";

        public string InBucket(int buckets, int bucket) => $"{Bucket(buckets)} = {bucket}";

        /// <summary>A second, independent part of the key's hash: splits one bucket evenly.</summary>
        public string SubBucket(int subBuckets) => $"(('x' || substr(md5({KeyText}), 9, 8))::bit(32)::bigint & 2147483647) % {subBuckets}";

        public static SideQuery ForSource(ScopedTable table) =>
            Build(table.Name.Sql, table.RowFilter is null ? "" : $" WHERE ({table.RowFilter})", table, c => c);

        public static SideQuery ForDestination(ScopedTable table) => Build(table.Destination.Sql, "", table, table.DestinationColumn);

        private static SideQuery Build(string name, string where, ScopedTable table, Func<string, string> column)
        {
            var columns = table.Columns.Select(c => "t." + Identifier.Quote(column(c.Name))).ToArray();
            var rowText = columns.Length == 1 ? $"ROW({columns[0]}, NULL::int)::text" : $"ROW({string.Join(", ", columns)})::text";
            var key = table.Source.PrimaryKey?.Columns.Where(table.ColumnNames.ContainsKey).Select(c => "t." + Identifier.Quote(column(c))).ToArray();
            var keyText = key is { Length: > 0 } ? $"ROW({string.Join(", ", key)}, NULL::int)::text" : rowText;
            return new SideQuery(name, where, keyText, rowText);
        }
    }
}
