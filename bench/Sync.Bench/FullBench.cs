using System.Globalization;
using Sync.Engine.Store;
using Sync.Engine.Tasks;
using Sync.Sandbox;
using static Sync.Bench.Shared;

namespace Sync.Bench;

/// <summary>Full copy: Sync's Full task, pgcopydb clone and pg_dump -Fd -j | pg_restore -j on the same source, same jobs.</summary>
internal static class FullBench
{
    public const string WideTable = """
        CREATE TABLE wide (id bigint PRIMARY KEY, label text, amount numeric(14,4), at timestamptz, doc jsonb, tags int[], ref uuid,
                           blob bytea, ratio double precision, active boolean, note varchar(200));
        INSERT INTO wide SELECT g, 'label ' || g, g * 1.2345, '2024-01-01'::timestamptz + g * interval '1 second',
            jsonb_build_object('g', g, 'name', 'item ' || g, 'flags', jsonb_build_array(g % 2 = 0, g % 3 = 0)), ARRAY[g, g + 1, g + 2],
            md5(g::text)::uuid, decode(md5(g::text) || md5((g + 1)::text), 'hex'), g / 7.0, g % 2 = 0, repeat('n', g % 100)
        FROM generate_series(1, {0}) g;
        CREATE INDEX wide_at ON wide (at);
        """;

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public static async Task<int> RunAsync(int scale, int wideRows, int jobs, int repeat, Dictionary<string, string> settings)
    {
        using var source = PostgresCluster.Start("bench-src", settings);
        using var target = PostgresCluster.Start("bench-dst", settings);
        var dataBytes = await PrepareSourceAsync(source, scale, wideRows);
        var expected = await CountsAsync(source, "bench");
        Console.WriteLine($"Source: pgbench scale {scale} plus {wideRows:N0} rows of a wide mixed-type table; {Mb(dataBytes)} MB of table data. {jobs} jobs for every contender.");

        var runs = new Dictionary<string, List<(TimeSpan Elapsed, long Peak)>>();
        void Add(string name, TimeSpan elapsed, long peak) => (runs.TryGetValue(name, out var list) ? list : runs[name] = []).Add((elapsed, peak));
        for (var round = 1; round <= repeat; round++)
        {
            // The contenders take turns within each round, so a slow moment of the machine does not favour one of them.
            var sync = await RunSyncAsync(source, target, "sync_target", jobs);
            Check("Sync", expected, await CountsAsync(target, "sync_target"));
            Add("Sync (Full task)", sync.Elapsed, sync.Peak);
            if (AbEnvironment() is { } ab)
            {
                await ExecuteAsync(target, "postgres", "DROP DATABASE sync_target WITH (FORCE)");
                var variant = await RunSyncAsync(source, target, "sync_target", jobs, ab);
                Check("Sync (A/B)", expected, await CountsAsync(target, "sync_target"));
                Add($"Sync (Full task, {string.Join(" ", ab.Select(kv => kv.Key + "=" + kv.Value))})", variant.Elapsed, variant.Peak);
            }

            await ExecuteAsync(target, "postgres", "CREATE DATABASE pgcopydb_target");
            var work = Directory.CreateTempSubdirectory("pgcopydb-").FullName;
            var pgcopydb = ProcessTreeMemory.Run("pgcopydb", ["clone", "--source", Uri(source, "bench"), "--target", Uri(target, "pgcopydb_target"),
                "--table-jobs", jobs.ToString(CultureInfo.InvariantCulture), "--index-jobs", jobs.ToString(CultureInfo.InvariantCulture),
                "--split-tables-larger-than", "64MB", "--dir", work, "--no-owner", "--no-acl"]);
            Directory.Delete(work, true);
            Check("pgcopydb", expected, await CountsAsync(target, "pgcopydb_target"));
            Add("pgcopydb clone", pgcopydb.Elapsed, pgcopydb.PeakBytes);

            await ExecuteAsync(target, "postgres", "CREATE DATABASE dump_target");
            var dump = Path.Combine(Path.GetTempPath(), "bench-dump-" + Guid.NewGuid().ToString("N")[..8]);
            var dumped = ProcessTreeMemory.Run("pg_dump", ["-Fd", "-j", jobs.ToString(CultureInfo.InvariantCulture), "-f", dump, "bench"], PgEnvironment(source));
            var restored = ProcessTreeMemory.Run("pg_restore", ["-j", jobs.ToString(CultureInfo.InvariantCulture), "--no-owner", "-d", "dump_target", dump], PgEnvironment(target));
            Directory.Delete(dump, true);
            Check("pg_dump/pg_restore", expected, await CountsAsync(target, "dump_target"));
            Add("pg_dump -Fd -j + pg_restore -j", dumped.Elapsed + restored.Elapsed, Math.Max(dumped.PeakBytes, restored.PeakBytes));

            foreach (var database in new[] { "sync_target", "pgcopydb_target", "dump_target" })
                await ExecuteAsync(target, "postgres", $"DROP DATABASE {database} WITH (FORCE)");
            await ExecuteAsync(target, "postgres", "CHECKPOINT");
            Console.WriteLine($"Round {round}: " + string.Join(", ", runs.Select(r => $"{r.Key} {r.Value[^1].Elapsed.TotalSeconds:0.00} s")));
        }
        var results = runs.Select(r => (Name: r.Key, Elapsed: Median(r.Value.Select(v => v.Elapsed.TotalSeconds)), Peak: (long)Median(r.Value.Select(v => (double)v.Peak))))
            .Select(r => (r.Name, Elapsed: TimeSpan.FromSeconds(r.Elapsed), r.Peak)).ToList();
        Console.WriteLine();
        Console.WriteLine("| Contender | Seconds | MB/s | Peak memory (MB) | Time vs Sync | Memory vs Sync |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var (name, elapsed, peak) in results)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {elapsed.TotalSeconds:0.0} | {dataBytes / 1048576.0 / elapsed.TotalSeconds:0.0} | {Mb(peak)} | {elapsed / results[0].Elapsed:0.00}x | {(double)peak / results[0].Peak:0.00}x |"));
        Console.WriteLine($"Medians of {repeat} rounds. Every result was checked: every table has the source's row count.");
        return 0;
    }

    /// <summary>Sync's peak memory on a small and a much larger copy: bounded memory means the two are close.</summary>
    public static async Task<int> MemoryAsync(int smallScale, int largeScale, Dictionary<string, string> settings)
    {
        Console.WriteLine("| Data (MB) | Seconds | Peak memory of the worker (MB) |");
        Console.WriteLine("|---:|---:|---:|");
        foreach (var scale in new[] { smallScale, largeScale })
        {
            using var source = PostgresCluster.Start("mem-src", settings);
            using var target = PostgresCluster.Start("mem-dst", settings);
            var bytes = await PrepareSourceAsync(source, scale, 0);
            var run = await RunSyncAsync(source, target, "sync_target", 4);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {Mb(bytes)} | {run.Elapsed.TotalSeconds:0.0} | {Mb(run.Peak)} |"));
        }
        return 0;
    }

    public static async Task<long> PrepareSourceAsync(PostgresCluster source, int scale, int wideRows)
    {
        await ExecuteAsync(source, "postgres", "CREATE DATABASE bench");
        Pgbench(source, "bench", "-i", "-q", "-s", scale.ToString(CultureInfo.InvariantCulture));
        if (wideRows > 0) await ExecuteAsync(source, "bench", string.Format(CultureInfo.InvariantCulture, WideTable, wideRows));
        await ExecuteAsync(source, "bench", "VACUUM ANALYZE");
        return await ScalarAsync<long>(source, "bench", "SELECT sum(pg_relation_size(oid))::bigint FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace");
    }

    /// <summary>A Full task run by Sync.Worker as its own process, measured like the other tools.</summary>
    /// <summary>
    /// SYNC_BENCH_AB="NAME=value ...": a second Sync contender in each round, its worker started with these variables
    /// over the worker's usual runtime settings (to measure a runtime setting against the same servers in the same run).
    /// </summary>
    private static Dictionary<string, string>? AbEnvironment() =>
        Environment.GetEnvironmentVariable("SYNC_BENCH_AB") is { Length: > 0 } text
            ? text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1])
            : null;

    public static async Task<(TimeSpan Elapsed, long Peak)> RunSyncAsync(PostgresCluster source, PostgresCluster target, string database, int jobs,
        IReadOnlyDictionary<string, string>? overrides = null)
    {
        await ExecuteAsync(target, "postgres", $"CREATE DATABASE {database}");
        var home = Directory.CreateTempSubdirectory("bench-store-").FullName;
        try
        {
            var service = new TaskService(new FileTaskStore(home));
            service.Create("bench-full", Endpoint(source, "bench"), Endpoint(target, database), d => d with
            {
                Mode = SyncTaskMode.Full, Options = d.Options with { CopyWorkers = jobs, ExistingTables = ExistingTablePolicy.Error },
            });
            // The runtime settings a launched worker gets (WorkerLauncher), then the A/B overrides.
            var environment = Sync.Engine.Runtime.WorkerLauncher.Tuning(streamsOnly: false)
                .Where(kv => string.IsNullOrEmpty(Environment.GetEnvironmentVariable(kv.Key))) // as the launcher: the caller's setting wins
                .ToDictionary(kv => kv.Key, kv => kv.Value);
            foreach (var (k, v) in overrides ?? new Dictionary<string, string>()) environment[k] = v;
            var run = ProcessTreeMemory.Run(Worker.FileName, [.. Worker.Arguments, "--task", "bench-full", "--store", home], environment);
            var state = service.Get("bench-full").State;
            if (state.Status != SyncTaskStatus.Completed) throw new InvalidOperationException($"Sync: {state.Status} {state.LastError?.Message}");
            if (Environment.GetEnvironmentVariable("SYNC_BENCH_VERBOSE") is not null)
            {
                var events = service.Store.ReadEvents("bench-full");
                var first = events[0].Event.Time;
                foreach (var (e, _) in events) Console.WriteLine($"    +{(e.Time - first).TotalSeconds,6:0.000} s  {e.Message}");
            }
            return (run.Elapsed, run.PeakBytes);
        }
        finally
        {
            Directory.Delete(home, true);
        }
    }
}
