using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Sync;
using Sync.Bench;
using Sync.Engine.Connections;
using Sync.Engine.Runtime;
using Sync.Engine.Security;
using Sync.Engine.Store;
using Sync.Engine.Tasks;
using Sync.Sandbox;

// Usage: Sync.Bench full [--scale N] [--wide-rows N] [--jobs N] [--repeat N]   (every mode also takes --durable)
//        Sync.Bench memory [--small-scale N] [--large-scale N]
//        Sync.Bench typed [--rows N] [--seconds N] [--clients N] [--sync-only]
//        Sync.Bench incremental [--scale N] [--seconds N] [--clients N] [--rate TPS] [--sync-only] [--native-first] [--resume-before-live]
// Every contender runs against the same sandbox servers (same settings), on the same data, in the same run.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var mode = args.FirstOrDefault() ?? "full";
int Option(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}
var settings = new Dictionary<string, string>
{
    ["shared_buffers"] = "'256MB'", ["max_wal_size"] = "'4GB'", ["maintenance_work_mem"] = "'256MB'", ["checkpoint_timeout"] = "'30min'",
    ["max_logical_replication_workers"] = "8", ["max_sync_workers_per_subscription"] = "4",
};
// --durable: the servers write to disk as production servers do (fsync and full-page writes on; the sandbox's default
// is off, which makes a commit's wait for the disk free and hides what each contender's commits cost).
if (args.Contains("--durable"))
{
    settings["fsync"] = "on";
    settings["full_page_writes"] = "on";
    Console.WriteLine("Servers: durable (fsync = on, full_page_writes = on).");
}
Console.WriteLine($"Machine: {Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1073741824.0:0} GiB, {Environment.OSVersion}; PostgreSQL from {PostgresCluster.FindBinDirectory()}");
Console.WriteLine($"Sync's worker: {Shared.WorkerDescription}");
return mode switch
{
    "full" => await FullBench.RunAsync(Option("--scale", 20), Option("--wide-rows", 300_000), Option("--jobs", 4), Option("--repeat", 3), settings),
    "memory" => await FullBench.MemoryAsync(Option("--small-scale", 5), Option("--large-scale", 40), settings),
    "typed" => await TypedBench.RunAsync(Option("--rows", 100_000), Option("--seconds", 30), Option("--clients", 4), args.Contains("--sync-only"), settings),
    "incremental" => await IncrementalBench.RunAsync(Option("--scale", 10), Option("--seconds", 60), Option("--clients", 4), Option("--rate", 0), args.Contains("--sync-only"), settings, nativeFirst: args.Contains("--native-first"), resumeBeforeLive: args.Contains("--resume-before-live")),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("Usage: Sync.Bench full|memory|incremental|typed [options]; see bench/README.md");
    return 2;
}

namespace Sync.Bench
{
    internal static partial class Shared
    {
    /// <summary>User plus system CPU seconds of a process so far, from /proc (0 when it is gone or unknown).</summary>
    public static double CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return 0; }
    }

        /// <summary>Waits until the follower's slot has confirmed <paramref name="endLsn"/>: everything written up to it is applied.</summary>
        public static async Task WaitConfirmedAsync(PostgresCluster source, string database, string slot, string endLsn, string what)
        {
            var clock = Stopwatch.StartNew();
            // One session for every poll: the servers' connection strings do not pool, and a connection a poll (20 a
            // second, each a backend started on the source and a SCRAM exchange on both ends) took CPU from the drain
            // it was timing.
            await using var connection = new NpgsqlConnection(source.ConnectionString(database));
            await connection.OpenAsync();
            await using var poll = new NpgsqlCommand($"SELECT coalesce(confirmed_flush_lsn, '0/0') < '{endLsn}'::pg_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'", connection);
            while ((bool)(await poll.ExecuteScalarAsync())!)
            {
                if (clock.Elapsed > TimeSpan.FromMinutes(30)) throw new TimeoutException($"{what} within 30 minutes");
                await Task.Delay(50);
            }
        }

        /// <summary>pgbench's count of the transactions it ran.</summary>
        [System.Text.RegularExpressions.GeneratedRegex(@"number of transactions actually processed: (\d+)")]
        public static partial System.Text.RegularExpressions.Regex TransactionsRegex();


        public static string Root { get; } = FindRoot();
        public static string Configuration { get; } = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)))!;
        /// <summary>Which worker, for the run's header: set by <see cref="ChooseWorker"/>, whose initializer runs after this one.</summary>
        public static string WorkerDescription { get; private set; } = "";

        /// <summary>
        /// The worker the bench launches: another build named by SYNC_BENCH_WORKER (a Sync.Worker.dll, or an executable
        /// worker) to compare two versions on the same run's servers; else this tree's natively compiled worker
        /// (out/worker/Sync.Worker, published when the tests build, or by hand: bench/README.md); else its managed one.
        /// </summary>
        public static WorkerLaunchSpec Worker { get; } = ChooseWorker();

        private static WorkerLaunchSpec ChooseWorker()
        {
            var managed = Path.Combine(Root, "src", "Sync.Worker", "bin", Configuration, "net8.0", "Sync.Worker.dll");
            var native = Path.Combine(Root, "out", "worker", "Sync.Worker");
            if (Environment.GetEnvironmentVariable("SYNC_BENCH_WORKER") is { Length: > 0 } other)
            {
                WorkerDescription = $"{other} (SYNC_BENCH_WORKER)";
                return WorkerLaunchSpec.ForWorker(other);
            }
            if (File.Exists(native))
            {
                // A native worker older than the engine's sources measures an older engine: say so, not refuse.
                var newest = new[] { "Sync.Contracts", "Sync.Engine", "Sync.Worker" }
                    .SelectMany(project => Directory.EnumerateFiles(Path.Combine(Root, "src", project), "*.cs*", SearchOption.AllDirectories))
                    .Where(file => !file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                                   && !file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                    .Select(File.GetLastWriteTimeUtc).DefaultIfEmpty().Max();
                var stale = File.GetLastWriteTimeUtc(native) < newest ? "; older than the engine's sources, republish it (bench/README.md)" : "";
                WorkerDescription = $"natively compiled, {native} (published {File.GetLastWriteTimeUtc(native):yyyy-MM-dd HH:mm} UTC{stale})";
                return new WorkerLaunchSpec(native, []);
            }
            WorkerDescription = $"managed, {managed} (no natively compiled worker at {native})";
            return WorkerLaunchSpec.ForWorkerAssembly(managed);
        }

        private static string FindRoot()
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sync.sln"))) dir = dir.Parent;
            return dir!.FullName;
        }

        public static async Task ExecuteAsync(PostgresCluster cluster, string database, string sql)
        {
            await using var connection = new NpgsqlConnection(cluster.ConnectionString(database));
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
            await command.ExecuteNonQueryAsync();
        }

        public static async Task<T> ScalarAsync<T>(PostgresCluster cluster, string database, string sql)
        {
            await using var connection = new NpgsqlConnection(cluster.ConnectionString(database));
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
            return (T)Convert.ChangeType((await command.ExecuteScalarAsync())!, typeof(T), CultureInfo.InvariantCulture);
        }

        public static string Uri(PostgresCluster cluster, string database) =>
            $"postgresql://{PostgresCluster.Superuser}:{cluster.SuperuserPassword}@{cluster.Host}:{cluster.Port}/{database}";

        public static Dictionary<string, string> PgEnvironment(PostgresCluster cluster) => new()
        {
            ["PGHOST"] = cluster.Host, ["PGPORT"] = cluster.Port.ToString(CultureInfo.InvariantCulture),
            ["PGUSER"] = PostgresCluster.Superuser, ["PGPASSWORD"] = cluster.SuperuserPassword,
        };

        public static EndpointInput Endpoint(PostgresCluster cluster, string database) => new()
        {
            Host = cluster.Host, Port = cluster.Port, Database = database, Username = PostgresCluster.Superuser,
            Password = new Secret(cluster.SuperuserPassword), SslMode = SslModeOption.Disable,
        };

        /// <summary>Row counts of every user table, for checking a contender's result against the source.</summary>
        public static async Task<Dictionary<string, long>> CountsAsync(PostgresCluster cluster, string database)
        {
            var counts = new Dictionary<string, long>();
            await using var connection = new NpgsqlConnection(cluster.ConnectionString(database));
            await connection.OpenAsync();
            var tables = new List<string>();
            await using (var list = new NpgsqlCommand("SELECT quote_ident(relname) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 1", connection))
            await using (var reader = await list.ExecuteReaderAsync())
                while (await reader.ReadAsync()) tables.Add(reader.GetString(0));
            foreach (var table in tables)
            {
                await using var count = new NpgsqlCommand($"SELECT count(*) FROM {table}", connection) { CommandTimeout = 0 };
                counts[table] = (long)(await count.ExecuteScalarAsync())!;
            }
            return counts;
        }

        public static void Check(string contender, Dictionary<string, long> expected, Dictionary<string, long> actual)
        {
            foreach (var (table, rows) in expected)
                if (actual.GetValueOrDefault(table, -1) != rows)
                    throw new InvalidOperationException($"{contender}: {table} has {actual.GetValueOrDefault(table, -1)} rows on the target, {rows} on the source.");
        }

        public static void Pgbench(PostgresCluster cluster, string database, params string[] args)
        {
            var start = new ProcessStartInfo("pgbench") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in args) start.ArgumentList.Add(a);
            start.ArgumentList.Add(database);
            foreach (var (k, v) in PgEnvironment(cluster)) start.Environment[k] = v;
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            if (process.ExitCode != 0) throw new InvalidOperationException($"pgbench failed: {error.Result}");
        }

        public static string Mb(long bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture);
    }
}
