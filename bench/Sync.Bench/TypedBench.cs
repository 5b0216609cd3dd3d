using System.Diagnostics;
using System.Globalization;
using Sync.Engine.Runtime;
using Sync.Engine.Store;
using Sync.Engine.Tasks;
using Sync.Sandbox;
using static Sync.Bench.Shared;

namespace Sync.Bench;

/// <summary>
/// The stream's value format on a load of typed columns (timestamps, numerics, floats, uuids, jsonb, dates, an enum):
/// each transaction updates one row and inserts one. Each contender copies the table, stops, lets the load write for a
/// fixed time, then applies that backlog from a standing start, which measures apply speed alone. Contenders: Sync
/// in binary form (its default where the types allow it) and with <c>-StreamFormat Text</c>, and PostgreSQL's own
/// subscription with <c>binary = false</c> (its default) and <c>binary = true</c>. Each destination is checked equal to
/// its source by a digest of every row.
/// </summary>
internal static class TypedBench
{
    private const string Schema = """
        CREATE TYPE kind AS ENUM ('new', 'open', 'held', 'closed');
        CREATE TABLE events (
            id bigint PRIMARY KEY, at timestamptz NOT NULL, amount numeric(14,4) NOT NULL, ratio float8, ref uuid NOT NULL,
            doc jsonb, tag text, day date, flag boolean, state kind NOT NULL, hits int NOT NULL DEFAULT 0);
        CREATE TABLE entries (
            id bigserial PRIMARY KEY, event bigint NOT NULL, at timestamptz NOT NULL, amount numeric(14,4), ref uuid, doc jsonb, state kind);
        """;

    private static string Fill(int rows) => $"""
        INSERT INTO events
        SELECT g, '2024-01-01'::timestamptz + g * interval '1 second', g / 7.0, g / 3.0, md5(g::text)::uuid,
               jsonb_build_object('n', g, 'tags', jsonb_build_array('a', 'b'), 'price', g / 100.0), 'tag ' || (g % 100),
               '2024-01-01'::date + g % 365, g % 2 = 0, (enum_range(NULL::kind))[1 + g % 4]
        FROM generate_series(1, {rows}) g;
        """;

    private static string Script(int rows) => $$"""
        \set id random(1, {{rows}})
        \set cents random(-5000, 5000)
        BEGIN;
        UPDATE events SET at = clock_timestamp(), amount = amount + :cents / 100.0, ratio = random(), hits = hits + 1,
            doc = jsonb_set(doc, '{n}', to_jsonb(:id + hits)), state = (enum_range(NULL::kind))[1 + (hits + 1) % 4] WHERE id = :id;
        INSERT INTO entries (event, at, amount, ref, doc, state)
            VALUES (:id, clock_timestamp(), :cents / 100.0, gen_random_uuid(), jsonb_build_object('event', :id, 'cents', :cents), 'open');
        END;
        """;

    /// <summary>A digest of every row of both tables, in the text form of each value, to check a destination equal.</summary>
    private const string Digest = "SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM events t) || ',' || (SELECT md5(string_agg(e::text, '|' ORDER BY id)) FROM entries e)";

    private sealed record Result(string Name, long Transactions, double DrainSeconds, double CpuSeconds, string Format)
    {
        public double Tps => Transactions / DrainSeconds;
    }

    /// <param name="syncOnly">Only Sync in binary form: for looking at a build's own drain and start-up quickly.</param>
    public static async Task<int> RunAsync(int rows, int seconds, int clients, bool syncOnly, Dictionary<string, string> settings)
    {
        using var source = PostgresCluster.Start("typed-src", settings);
        using var target = PostgresCluster.Start("typed-dst", settings);
        var script = Path.Combine(Directory.CreateTempSubdirectory("bench-typed-").FullName, "typed.sql");
        await File.WriteAllTextAsync(script, Script(rows));
        Console.WriteLine($"Load: each transaction updates one of {rows} typed rows and inserts one typed row; {clients} clients for {seconds} s while the follower is stopped, then the backlog is applied.");
        if (syncOnly)
        {
            var alone = await SyncAsync(source, target, "typed_sync_bin", rows, seconds, clients, script, StreamFormatOption.Auto);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{alone.Name}: drain {alone.Tps:0} tps in {alone.Format} form, {1e6 * alone.CpuSeconds / alone.Transactions:0.0} ms of follower CPU per 1000 transactions."));
            return 0;
        }
        var results = new List<Result>
        {
            await SyncAsync(source, target, "typed_sync_bin", rows, seconds, clients, script, StreamFormatOption.Auto),
            await NativeAsync(source, target, "typed_native_text", rows, seconds, clients, script, binary: false),
            await SyncAsync(source, target, "typed_sync_text", rows, seconds, clients, script, StreamFormatOption.Text),
            await NativeAsync(source, target, "typed_native_bin", rows, seconds, clients, script, binary: true),
        };
        Console.WriteLine();
        Console.WriteLine("| System | Value format | Backlog transactions | Drain time (s) | Drain tps | Follower CPU (s) | CPU ms per 1000 transactions |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var r in results)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.Format} | {r.Transactions} | {r.DrainSeconds:0.0} | {r.Tps:0} | {r.CpuSeconds:0.0} | {1e6 * r.CpuSeconds / r.Transactions:0.0} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Drain throughput: Sync binary vs Sync text {results[0].Tps / results[2].Tps:0.00}x; Sync binary vs native text {results[0].Tps / results[1].Tps:0.00}x, vs native binary {results[0].Tps / results[3].Tps:0.00}x; Sync text vs native text {results[2].Tps / results[1].Tps:0.00}x. Every destination was checked equal to its source (a digest of every row)."));
        return 0;
    }

    private static async Task PrepareAsync(PostgresCluster source, PostgresCluster target, string db, int rows, bool schemaOnTarget)
    {
        await ExecuteAsync(source, "postgres", $"CREATE DATABASE {db}");
        await ExecuteAsync(target, "postgres", $"CREATE DATABASE {db}");
        await ExecuteAsync(source, db, Schema + Fill(rows));
        await ExecuteAsync(source, db, "VACUUM ANALYZE events");
        if (schemaOnTarget) await ExecuteAsync(target, db, Schema);
    }

    private static async Task<Result> SyncAsync(PostgresCluster source, PostgresCluster target, string db, int rows, int seconds, int clients, string script, StreamFormatOption format)
    {
        var name = $"Sync ({(format == StreamFormatOption.Text ? "-StreamFormat Text" : "default")})";
        await PrepareAsync(source, target, db, rows, schemaOnTarget: false);
        var home = Directory.CreateTempSubdirectory("bench-typed-home-").FullName;
        var service = new TaskService(new FileTaskStore(home));
        service.Create("bench-typed", Endpoint(source, db), Endpoint(target, db),
            d => d with { Mode = SyncTaskMode.FullIncremental, Options = d.Options with { StreamFormat = format } });
        var worker = Worker;
        await service.StartAsync("bench-typed", worker, [], CancellationToken.None);
        await service.WaitAsync("bench-typed", WaitCondition.CaughtUp, TimeSpan.FromMinutes(30), TimeSpan.FromSeconds(1), null, CancellationToken.None);
        var slot = TaskNaming.SlotName(service.Get("bench-typed").Definition);
        var resumedAt = DateTimeOffset.MaxValue;
        var (transactions, drain) = await BacklogAsync(name, source, target, db, slot, seconds, clients, script,
            () => service.RequestStopAsync("bench-typed", ControlAction.Pause, wait: true, CancellationToken.None),
            () =>
            {
                resumedAt = DateTimeOffset.UtcNow;
                return service.ResumeAsync("bench-typed", worker, CancellationToken.None);
            });
        // How long the resumed worker took to start streaming: part of the drain's time.
        if (service.Store.ReadEvents("bench-typed").Select(e => e.Event).FirstOrDefault(e => e.Time >= resumedAt && e.Message.StartsWith("Streaming from slot", StringComparison.Ordinal)) is { } streaming)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: the resumed worker started streaming {(streaming.Time - resumedAt).TotalSeconds:0.000} s after the resume."));
        var workerCpu = CpuSeconds(service.Get("bench-typed").State.Worker?.ProcessId ?? 0);
        var backendCpu = CpuSeconds(await ScalarAsync<int>(target, db, "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name = 'sync:bench-typed:apply'"));
        var cpu = workerCpu + backendCpu;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: the drain's worker process used {workerCpu:0.0} s of CPU (its start-up included), its apply backend on the destination {backendCpu:0.0} s."));
        var streamed = service.Store.ReadEvents("bench-typed").Select(e => e.Event.Message).Last(m => m.StartsWith("Streaming from slot", StringComparison.Ordinal));
        var formatUsed = streamed.Contains(" in binary format", StringComparison.Ordinal) ? "binary" : "text";
        Console.WriteLine($"{name}: {streamed}");
        await service.RequestStopAsync("bench-typed", ControlAction.Stop, wait: true, CancellationToken.None);
        await service.RemoveAsync("bench-typed", force: true, CancellationToken.None);
        Directory.Delete(home, true);
        return new Result(name, transactions, drain, cpu, formatUsed);
    }

    private static async Task<Result> NativeAsync(PostgresCluster source, PostgresCluster target, string db, int rows, int seconds, int clients, string script, bool binary)
    {
        var name = $"PostgreSQL logical replication (binary = {(binary ? "true" : "false")})";
        await PrepareAsync(source, target, db, rows, schemaOnTarget: true);
        await ExecuteAsync(source, db, "CREATE PUBLICATION typed_pub FOR ALL TABLES");
        var connection = $"host={source.Host} port={source.Port} dbname={db} user={PostgresCluster.Superuser} password={source.SuperuserPassword}";
        await ExecuteAsync(target, db, $"CREATE SUBSCRIPTION typed_sub CONNECTION '{connection}' PUBLICATION typed_pub WITH (binary = {(binary ? "true" : "false")})");
        var clock = Stopwatch.StartNew();
        while (await ScalarAsync<long>(target, db, "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'") > 0 || clock.Elapsed < TimeSpan.FromSeconds(1))
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(30)) throw new TimeoutException("native initial sync did not finish");
            await Task.Delay(200);
        }
        var (transactions, drain) = await BacklogAsync(name, source, target, db, "typed_sub", seconds, clients, script,
            () => ExecuteAsync(target, db, "ALTER SUBSCRIPTION typed_sub DISABLE"),
            () => ExecuteAsync(target, db, "ALTER SUBSCRIPTION typed_sub ENABLE"));
        var cpu = CpuSeconds(await ScalarAsync<int>(target, db, "SELECT coalesce(max(pid), 0) FROM pg_stat_subscription WHERE subname = 'typed_sub'"));
        await ExecuteAsync(target, db, "DROP SUBSCRIPTION typed_sub");
        return new Result(name, transactions, drain, cpu, binary ? "binary" : "text");
    }

    /// <summary>Stops the follower, runs the load, starts the follower and times it until its slot has confirmed the load's end; checks the destination equal.</summary>
    private static async Task<(long Transactions, double Seconds)> BacklogAsync(string name, PostgresCluster source, PostgresCluster target, string db, string slot,
        int seconds, int clients, string script, Func<Task> stop, Func<Task> start)
    {
        await stop();
        var output = ProcessTreeMemory.Run("pgbench", ["-c", clients.ToString(CultureInfo.InvariantCulture), "-j", "2", "-T", seconds.ToString(CultureInfo.InvariantCulture), "-n", "-f", script, db],
            PgEnvironment(source)).Output;
        var transactions = long.Parse(TransactionsRegex().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var endLsn = await ScalarAsync<string>(source, db, "SELECT pg_current_wal_lsn()::text");
        await ExecuteAsync(source, "postgres", "CHECKPOINT");
        await ExecuteAsync(target, "postgres", "CHECKPOINT");
        var drain = Stopwatch.StartNew();
        await start();
        await WaitConfirmedAsync(source, db, slot, endLsn, $"{name} did not drain its backlog");
        var seconds2 = drain.Elapsed.TotalSeconds;
        // A new walsender serves the restarted follower: all its CPU is the drain's.
        var walsender = CpuSeconds(await ScalarAsync<int>(source, db, $"SELECT coalesce(max(active_pid), 0) FROM pg_replication_slots WHERE slot_name = '{slot}'"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: the source's walsender used {walsender:0.0} s of CPU for the drain."));
        // Both digests in the destination's own text forms of the values: equal only if every value arrived equal.
        var expected = await DigestAsync(source, db);
        var actual = await DigestAsync(target, db);
        if (expected != actual) throw new InvalidOperationException($"{name}: the destination's rows differ from the source's after the backlog ({actual} against {expected}).");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {transactions} transactions applied in {seconds2:0.0} s; the destination equals the source."));
        return (transactions, seconds2);
    }

    private static async Task<string> DigestAsync(PostgresCluster cluster, string db)
    {
        await using var connection = new Npgsql.NpgsqlConnection(cluster.ConnectionString(db));
        await connection.OpenAsync();
        // Fixed output settings, so that both servers write every value the same way.
        await using var command = new Npgsql.NpgsqlCommand("SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET extra_float_digits = 3; " + Digest, connection) { CommandTimeout = 0 };
        await using var reader = await command.ExecuteReaderAsync();
        var parts = new List<string>();
        do
            while (await reader.ReadAsync()) parts.Add(reader.IsDBNull(0) ? "" : reader.GetString(0));
        while (await reader.NextResultAsync());
        return string.Join(",", parts);
    }
}
