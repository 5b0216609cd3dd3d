using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using Sync.Engine.Runtime;
using Sync.Engine.Store;
using Sync.Engine.Tasks;
using Sync.Sandbox;
using static Sync.Bench.Shared;

namespace Sync.Bench;

/// <summary>
/// Streaming under a pgbench TPC-B-like load: Sync's FullIncremental task and PostgreSQL's own logical replication
/// (publication and subscription) on the same servers and the same load. Latency comes from a probe table written
/// every 100 ms during the load; an ALWAYS trigger on the destination stamps each probe row's arrival, so both
/// systems are measured by the same clock and code.
/// </summary>
internal static partial class IncrementalBench
{
    private const string Probe = "CREATE TABLE probe (id bigserial PRIMARY KEY, sent timestamptz NOT NULL DEFAULT clock_timestamp(), arrived timestamptz)";
    private const string ProbeTrigger = """
        CREATE FUNCTION probe_arrival() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.arrived := clock_timestamp(); RETURN NEW; END $$;
        CREATE TRIGGER probe_arrival BEFORE INSERT ON probe FOR EACH ROW EXECUTE FUNCTION probe_arrival();
        ALTER TABLE probe ENABLE ALWAYS TRIGGER probe_arrival;
        """;

    private sealed record Result(string Name, double SourceTps, double AppliedTps, double RowsPerSecond, double P50, double P99, double CatchUp, long? PeakBytes, long Transactions)
    {
        /// <summary>The backlog phase: transactions written while the follower was stopped, and how long it took to apply them.</summary>
        public long BacklogTransactions { get; init; }
        public double DrainSeconds { get; init; }
        public double DrainTps => DrainSeconds > 0 ? BacklogTransactions / DrainSeconds : 0;
        /// <summary>CPU seconds the follower's own processes used for the drain (Sync: worker and its apply backend; native: the apply worker).</summary>
        public double DrainCpuSeconds { get; init; }
        /// <summary>CPU seconds the follower used during the live phase (load and catch-up).</summary>
        public double LiveCpuSeconds { get; init; }
    }

    /// <param name="syncOnly">Only Sync, no native contender and no ratios: for looking at Sync's own figures between two builds quickly.</param>
    /// <param name="nativeFirst">Native replication runs first: the contender that goes second runs on servers that already carry the other's database and WAL.</param>
    /// <param name="resumeBeforeLive">Sync's task is paused and resumed after its copy, so its live phase runs in a fresh streaming worker, not in the one that copied.</param>
    public static async Task<int> RunAsync(int scale, int seconds, int clients, int rate, bool syncOnly, Dictionary<string, string> settings, bool nativeFirst = false,
        bool resumeBeforeLive = false)
    {
        using var source = PostgresCluster.Start("inc-src", settings);
        using var target = PostgresCluster.Start("inc-dst", settings);
        Console.WriteLine($"Load: pgbench TPC-B-like, scale {scale}, {clients} clients, {seconds} s, {(rate > 0 ? $"held at {rate} tps (pgbench -R)" : "as fast as it goes")}, while the destination follows; probe every 100 ms.");
        Result? native = null;
        if (nativeFirst && !syncOnly)
        {
            native = await NativeAsync(source, target, scale, seconds, clients, rate);
            Console.WriteLine($"Native (ran first): {native}");
        }
        var results = new List<Result> { await SyncAsync(source, target, scale, seconds, clients, rate, resumeBeforeLive) };
        Console.WriteLine($"Sync: {results[0]}");
        if (syncOnly) return 0;
        results.Add(native ?? await NativeAsync(source, target, scale, seconds, clients, rate));
        if (native is null) Console.WriteLine($"Native: {results[1]}");
        Console.WriteLine();
        Console.WriteLine("| System | Source tps | Applied tps | Applied rows/s | Latency p50 (s) | Latency p99 (s) | Catch-up after load (s) | Follower CPU ms per 1000 transactions | Peak memory (MB) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.SourceTps:0} | {r.AppliedTps:0} | {r.RowsPerSecond:0} | {r.P50:0.000} | {r.P99:0.000} | {r.CatchUp:0.0} | {1e6 * r.LiveCpuSeconds / Math.Max(1, r.Transactions):0.0} | {(r.PeakBytes is { } p ? Mb(p) : "in server")} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Applied throughput, Sync vs native: {results[0].AppliedTps / results[1].AppliedTps:0.00}x. Both destinations were checked equal to their source (row counts and balances)."));
        Console.WriteLine();
        Console.WriteLine($"Backlog: {seconds} s of the same load written while the follower was stopped, then applied from a standing start (apply speed alone, without competing with the load for the cores).");
        Console.WriteLine("| System | Backlog transactions | Drain time (s) | Drain tps | Follower CPU (s) | CPU ms per 1000 transactions |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var r in results)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.BacklogTransactions} | {r.DrainSeconds:0.0} | {r.DrainTps:0} | {r.DrainCpuSeconds:0.0} | {1e6 * r.DrainCpuSeconds / Math.Max(1, r.BacklogTransactions):0.0} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Drain throughput, Sync vs native: {results[0].DrainTps / results[1].DrainTps:0.00}x."));
        return 0;
    }

    private static async Task<Result> SyncAsync(PostgresCluster source, PostgresCluster target, int scale, int seconds, int clients, int rate, bool resumeBeforeLive)
    {
        const string db = "inc_sync";
        await PrepareAsync(source, db, scale);
        await ExecuteAsync(target, "postgres", $"CREATE DATABASE {db}");
        var home = Directory.CreateTempSubdirectory("bench-inc-").FullName;
        var service = new TaskService(new FileTaskStore(home));
        service.Create("bench-inc", Endpoint(source, db), Endpoint(target, db), d => d with { Mode = SyncTaskMode.FullIncremental });
        var started = await service.StartAsync("bench-inc", Worker, [], CancellationToken.None);
        using var memory = new ProcessTreeMemory(started.State.Worker!.ProcessId);
        ProcessTreeMemory? liveMemory = null;
        await service.WaitAsync("bench-inc", WaitCondition.FullSyncComplete, TimeSpan.FromMinutes(30), TimeSpan.FromSeconds(1), null, CancellationToken.None);
        if (resumeBeforeLive)
        {
            await service.RequestStopAsync("bench-inc", ControlAction.Pause, wait: true, CancellationToken.None);
            var resumed = await service.ResumeAsync("bench-inc", Worker, CancellationToken.None);
            liveMemory = new ProcessTreeMemory(resumed.State.Worker!.ProcessId);
            Console.WriteLine("Sync: paused and resumed after the copy; the live phase runs in a fresh streaming worker.");
        }
        await ExecuteAsync(target, db, ProbeTrigger);
        var slot = TaskNaming.SlotName(service.Get("bench-inc").Definition);
        // The live phase measures the stream's processes: wait for its apply session, opened as the stream starts.
        var waiting = Stopwatch.StartNew();
        while (await ScalarAsync<int>(target, db, "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name = 'sync:bench-inc:apply'") == 0)
        {
            if (waiting.Elapsed > TimeSpan.FromMinutes(2)) throw new TimeoutException("Sync's stream did not open its apply session");
            await Task.Delay(100);
        }
        async Task<double> FollowerCpu(string phase)
        {
            var worker = service.Get("bench-inc").State.Worker?.ProcessId ?? 0;
            var backend = await ScalarAsync<int>(target, db, "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name = 'sync:bench-inc:apply'");
            var (workerCpu, backendCpu) = (CpuSeconds(worker), CpuSeconds(backend));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Sync CPU so far ({phase}): worker process {workerCpu:0.0} s, its apply backend on the destination {backendCpu:0.0} s."));
            return workerCpu + backendCpu;
        }
        async Task<(string, int)[]> Processes() =>
        [
            ("worker", service.Get("bench-inc").State.Worker?.ProcessId ?? 0),
            ("apply backend", await ScalarAsync<int>(target, db, "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name = 'sync:bench-inc:apply'")),
        ];
        var resumedAt = DateTimeOffset.MaxValue;
        var result = await LoadAndMeasureAsync("Sync (FullIncremental)", source, target, db, slot, seconds, clients, rate, () => FollowerCpu("live"), Processes);
        var (backlog, drain, cpu) = await BacklogAsync("Sync (FullIncremental)", source, target, db, slot, seconds, clients,
            () => service.RequestStopAsync("bench-inc", ControlAction.Pause, wait: true, CancellationToken.None),
            () =>
            {
                resumedAt = DateTimeOffset.UtcNow;
                return service.ResumeAsync("bench-inc", Worker, CancellationToken.None);
            },
            () => FollowerCpu("drain"), Processes);
        result = result with { BacklogTransactions = backlog, DrainSeconds = drain, DrainCpuSeconds = cpu };
        // How long the resumed worker took to start and to start streaming: part of the drain's time.
        foreach (var e in service.Store.ReadEvents("bench-inc").Select(e => e.Event)
                     .Where(e => e.Time >= resumedAt && (e.Message.StartsWith("Worker ", StringComparison.Ordinal) || e.Message.StartsWith("Streaming from slot", StringComparison.Ordinal))))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Sync, drain, +{(e.Time - resumedAt).TotalSeconds:0.000} s: {e.Message}"));
        await service.RequestStopAsync("bench-inc", ControlAction.Stop, wait: true, CancellationToken.None);
        // Which format the stream ran in (binary where the tables allow it, StreamFormat).
        foreach (var streamed in service.Store.ReadEvents("bench-inc").Select(e => e.Event.Message).Where(m => m.StartsWith("Streaming from slot", StringComparison.Ordinal)))
            Console.WriteLine($"Sync: {streamed}");
        // What each worker (the copying one, the resumed one) spent compiling, from its log's last line.
        var log = WorkerLauncher.LogPath(home, "bench-inc");
        if (File.Exists(log))
            foreach (var line in File.ReadLines(log).Where(l => l.Contains("Worker[110]", StringComparison.Ordinal) || l.Contains("RealtimeSync[401]", StringComparison.Ordinal) || l.Contains("RealtimeSync[402]", StringComparison.Ordinal)))
                // After the log's fixed 30-character prefix (time, level), the category and event id end at the first ']'.
                Console.WriteLine($"Sync: {line[(line.IndexOf(']', 30) + 2)..]}");
        await service.RemoveAsync("bench-inc", force: true, CancellationToken.None);
        Directory.Delete(home, true);
        using (liveMemory)
            return result with { PeakBytes = Math.Max(memory.PeakBytes, liveMemory?.PeakBytes ?? 0) };
    }

    private static async Task<Result> NativeAsync(PostgresCluster source, PostgresCluster target, int scale, int seconds, int clients, int rate)
    {
        const string db = "inc_native";
        await PrepareAsync(source, db, scale);
        await ExecuteAsync(target, "postgres", $"CREATE DATABASE {db}");
        var schema = ProcessTreeMemory.Run("pg_dump", ["--schema-only", "--no-owner", db], PgEnvironment(source)).Output;
        // Plain pg_dump output may carry psql meta-commands (\restrict in recent releases); the server takes only SQL.
        await ExecuteAsync(target, db, string.Join('\n', schema.Split('\n')
            .Where(l => !l.StartsWith("SELECT pg_catalog.set_config('search_path'", StringComparison.Ordinal) && !l.StartsWith('\\'))));
        await ExecuteAsync(target, db, ProbeTrigger);
        await ExecuteAsync(source, db, "CREATE PUBLICATION bench_pub FOR ALL TABLES");
        var connection = $"host={source.Host} port={source.Port} dbname={db} user={PostgresCluster.Superuser} password={source.SuperuserPassword}";
        await ExecuteAsync(target, db, $"CREATE SUBSCRIPTION bench_sub CONNECTION '{connection}' PUBLICATION bench_pub");
        var clock = Stopwatch.StartNew();
        while (await ScalarAsync<long>(target, db, "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'") > 0 || clock.Elapsed < TimeSpan.FromSeconds(1))
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(30)) throw new TimeoutException("native initial sync did not finish");
            await Task.Delay(200);
        }
        async Task<double> ApplyWorkerCpu() => CpuSeconds(await ScalarAsync<int>(target, db, "SELECT coalesce(max(pid), 0) FROM pg_stat_subscription WHERE subname = 'bench_sub'"));
        async Task<(string, int)[]> Processes() =>
            [("apply worker", await ScalarAsync<int>(target, db, "SELECT coalesce(max(pid), 0) FROM pg_stat_subscription WHERE subname = 'bench_sub'"))];
        var result = await LoadAndMeasureAsync("PostgreSQL logical replication", source, target, db, "bench_sub", seconds, clients, rate, ApplyWorkerCpu, Processes);
        var (backlog, drain, cpu) = await BacklogAsync("PostgreSQL logical replication", source, target, db, "bench_sub", seconds, clients,
            () => ExecuteAsync(target, db, "ALTER SUBSCRIPTION bench_sub DISABLE"),
            () => ExecuteAsync(target, db, "ALTER SUBSCRIPTION bench_sub ENABLE"),
            ApplyWorkerCpu, Processes);
        result = result with { BacklogTransactions = backlog, DrainSeconds = drain, DrainCpuSeconds = cpu };
        await ExecuteAsync(target, db, "DROP SUBSCRIPTION bench_sub");
        return result;
    }

    /// <summary>
    /// Stops the follower, writes the load for the same time, then starts it and times how long it takes until the slot
    /// has confirmed the source's position at the end of the load; checks the destination equal.
    /// </summary>
    private static async Task<(long Transactions, double Seconds, double CpuSeconds)> BacklogAsync(string name, PostgresCluster source, PostgresCluster target, string db, string slot,
        int seconds, int clients, Func<Task> stop, Func<Task> start, Func<Task<double>> followerCpu, Func<Task<(string Label, int Pid)[]>> followerProcesses)
    {
        await stop();
        var output = ProcessTreeMemory.Run("pgbench", ["-c", clients.ToString(CultureInfo.InvariantCulture), "-j", "2", "-T", seconds.ToString(CultureInfo.InvariantCulture), "-n", db], PgEnvironment(source)).Output;
        var transactions = long.Parse(TransactionsRegex().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var endLsn = await ScalarAsync<string>(source, db, "SELECT pg_current_wal_lsn()::text");
        await CheckpointAsync(source, target);
        var drain = Stopwatch.StartNew();
        await start();
        await WaitConfirmedAsync(source, db, slot, endLsn, $"{name} did not drain its backlog");
        var drainSeconds = drain.Elapsed.TotalSeconds;
        // The follower's processes were started for the drain (a new worker; a re-enabled apply worker): their CPU is the drain's.
        var cpu = await followerCpu();
        // So was the walsender serving it: with it, how busy the machine's cores were during the drain.
        var walsender = CpuSeconds(await ScalarAsync<int>(source, db, $"SELECT coalesce(max(active_pid), 0) FROM pg_replication_slots WHERE slot_name = '{slot}'"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}, drain: the source's walsender used {walsender:0.0} s of CPU; with the follower, {cpu + walsender:0.0} s over {drainSeconds:0.0} s on {Environment.ProcessorCount} cores ({100 * (cpu + walsender) / (drainSeconds * Environment.ProcessorCount):0}% of them)."));
        foreach (var (label, pid) in await followerProcesses())
            Console.WriteLine($"{name}, drain, thread switches of the {label}: {ThreadSwitches.Describe(ThreadSwitches.Read(pid).Since(ThreadSwitches.None), transactions)}.");
        foreach (var check in new[] { "SELECT count(*) FROM pgbench_history", "SELECT sum(abalance) FROM pgbench_accounts", "SELECT sum(tbalance) FROM pgbench_tellers" })
        {
            var expected = await ScalarAsync<long>(source, db, check);
            var actual = await ScalarAsync<long>(target, db, check);
            if (expected != actual) throw new InvalidOperationException($"{name} after the backlog: '{check}' is {actual} on the destination and {expected} on the source.");
        }
        return (transactions, drainSeconds, cpu);
    }

    /// <summary>
    /// Each phase (a contender's load, a drain) starts from a checkpoint on both servers, not amid writing out what came
    /// before it.
    /// </summary>
    private static async Task CheckpointAsync(PostgresCluster source, PostgresCluster target)
    {
        await ExecuteAsync(source, "postgres", "CHECKPOINT");
        await ExecuteAsync(target, "postgres", "CHECKPOINT");
    }

    private static async Task PrepareAsync(PostgresCluster source, string db, int scale)
    {
        await ExecuteAsync(source, "postgres", $"CREATE DATABASE {db}");
        Pgbench(source, db, "-i", "-q", "-s", scale.ToString(CultureInfo.InvariantCulture));
        await ExecuteAsync(source, db, Probe);
    }

    /// <param name="rate">Transactions per second pgbench holds the load at (-R); 0 for as fast as the machine goes.</param>
    private static async Task<Result> LoadAndMeasureAsync(string name, PostgresCluster source, PostgresCluster target, string db, string slot, int seconds, int clients,
        int rate, Func<Task<double>> followerCpu, Func<Task<(string Label, int Pid)[]>> followerProcesses)
    {
        await CheckpointAsync(source, target);
        var cpuBefore = await followerCpu();
        var processes = await followerProcesses();
        var switchesBefore = processes.Select(p => ThreadSwitches.Read(p.Pid)).ToArray();
        using var stopProbe = new CancellationTokenSource();
        var probe = Task.Run(async () =>
        {
            await using var connection = new NpgsqlConnection(source.ConnectionString(db));
            await connection.OpenAsync();
            while (!stopProbe.IsCancellationRequested)
            {
                await using (var insert = new NpgsqlCommand("INSERT INTO probe DEFAULT VALUES", connection)) await insert.ExecuteNonQueryAsync();
                try { await Task.Delay(100, stopProbe.Token); } catch (OperationCanceledException) { }
            }
        });
        var load = Stopwatch.StartNew();
        string[] arguments = ["-c", clients.ToString(CultureInfo.InvariantCulture), "-j", "2", "-T", seconds.ToString(CultureInfo.InvariantCulture), "-n",
            .. rate > 0 ? new[] { "-R", rate.ToString(CultureInfo.InvariantCulture) } : [], db];
        var output = ProcessTreeMemory.Run("pgbench", arguments, PgEnvironment(source)).Output;
        var loadSeconds = load.Elapsed.TotalSeconds;
        stopProbe.Cancel();
        await probe;
        var transactions = long.Parse(TransactionsRegex().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var sourceTps = double.Parse(TpsRegex().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var endLsn = await ScalarAsync<string>(source, db, "SELECT pg_current_wal_lsn()::text");
        var catchUp = Stopwatch.StartNew();
        await WaitConfirmedAsync(source, db, slot, endLsn, $"{name} did not catch up");
        var catchUpSeconds = catchUp.Elapsed.TotalSeconds;
        var liveCpu = await followerCpu() - cpuBefore;
        for (var i = 0; i < processes.Length; i++)
            Console.WriteLine($"{name}, live phase, thread switches of the {processes[i].Label}: {ThreadSwitches.Describe(ThreadSwitches.Read(processes[i].Pid).Since(switchesBefore[i]), transactions)}.");
        foreach (var check in new[] { "SELECT count(*) FROM pgbench_history", "SELECT sum(abalance) FROM pgbench_accounts", "SELECT sum(tbalance) FROM pgbench_tellers", "SELECT count(*) FROM probe" })
        {
            var expected = await ScalarAsync<long>(source, db, check);
            var actual = await ScalarAsync<long>(target, db, check);
            if (expected != actual) throw new InvalidOperationException($"{name}: '{check}' is {actual} on the destination and {expected} on the source.");
        }
        var p50 = await ScalarAsync<double>(target, db, "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM arrived - sent)) FROM probe");
        var p99 = await ScalarAsync<double>(target, db, "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM arrived - sent)) FROM probe");
        var applied = transactions / (loadSeconds + catchUpSeconds);
        return new Result(name, sourceTps, applied, applied * 4, p50, p99, catchUpSeconds, null, transactions) { LiveCpuSeconds = liveCpu };
    }

    [GeneratedRegex(@"tps = ([\d.]+)")]
    private static partial Regex TpsRegex();
}
