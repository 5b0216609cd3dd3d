using Sync.Engine.Stream;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Streaming;

/// <summary>
/// The stream as it runs against sources before PostgreSQL 14 (protocol 1, no logical messages in pgoutput, no streaming
/// of in-progress transactions), on this machine's PostgreSQL 15 with the stream's features chosen as for 13: the
/// heartbeat row moves the slot and measures latency, and a stop drains to its exact mark.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class OlderSourceTests : IDisposable
{
    private readonly PostgresFixture postgres;
    private readonly TempStore _temp = new();

    public OlderSourceTests(PostgresFixture postgres)
    {
        this.postgres = postgres;
        StreamFeatures.EmulatedSourceVersion = 13;
    }

    public void Dispose()
    {
        StreamFeatures.EmulatedSourceVersion = null;
        _temp.Dispose();
    }

    [Fact]
    public async Task TheHeartbeatRowCarriesTheStreamOfASourceBefore14()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync($"""
            CREATE TABLE t (id int PRIMARY KEY, v text);
            CREATE TABLE bare (a int, b text);
            ALTER TABLE bare REPLICA IDENTITY FULL;
            INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g;
            ALTER DATABASE "{db.Name}" SET logical_decoding_work_mem = '64kB';
            """);
        var other = db.Name + "_other";
        await PostgresFixture.ExecuteAsync(db.SourceCluster, "postgres", $"CREATE DATABASE {other}");
        try
        {
            var service = new TaskService(_temp.Store);
            // The longest name a task may have: the helper table's name is cut to the server's 63 bytes, and still found.
            const string name = "old-src-with-the-longest-name-a-task-may-have-0050";
            Assert.Equal(50, name.Length);
            var task = service.Create(name, TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
                d => d with { Mode = SyncTaskMode.FullIncremental });
            var heartbeat = HeartbeatTable.Name(task.Definition);
            Assert.Equal(TaskNaming.MaxIdentifierLength, heartbeat.Name.Length);
            var slot = TaskNaming.SlotName(task.Definition);
            await using var harness = new StreamingHarness(service, db, name);
            await harness.StartAsync();

            // The heartbeat table is on the source, in the task's publication, and nowhere on the destination.
            Assert.Equal(1L, await db.SourceScalarAsync<long>(
                $"SELECT count(*) FROM pg_publication_tables WHERE pubname = '{TaskNaming.PublicationName(task.Definition)}' AND schemaname = '{heartbeat.Schema}' AND tablename = '{heartbeat.Name}'"));
            Assert.Equal(0L, await db.DestinationScalarAsync<long>($"SELECT count(*) FROM pg_class WHERE relname = '{heartbeat.Name}'"));
            // The beat's time as pgoutput sends it (timestamptz text) is read back as the source's clock.
            Assert.True(HeartbeatTable.TryParseBeat(await db.SourceScalarAsync<string>($"SELECT beat_at::text FROM {heartbeat.Sql}"), out var beatAt));
            Assert.InRange(DateTimeOffset.UtcNow - beatAt, TimeSpan.FromSeconds(-5), TimeSpan.FromSeconds(30));

            await db.OnSourceAsync("""
                UPDATE t SET v = v || '!' WHERE id <= 50;
                DELETE FROM t WHERE id > 90;
                INSERT INTO bare VALUES (1, 'a'), (1, 'a'), (2, 'b');
                UPDATE bare SET b = 'c' WHERE a = 2;
                BEGIN;
                INSERT INTO t SELECT g, repeat('L', 300) FROM generate_series(1001, 4000) g;
                UPDATE t SET id = id + 10000 WHERE id BETWEEN 1 AND 10;
                COMMIT;
                """);
            await harness.CatchUpAsync(TimeSpan.FromSeconds(60));
            await harness.AssertEqualAsync();
            // Protocol 1: the large transaction arrived whole at its commit, never streamed in progress.
            Assert.Equal(0L, await db.SourceScalarAsync<long>($"SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = '{slot}'"));
            Assert.False(Directory.Exists(Path.Combine(_temp.Store.TaskFolder(name), "spool")), "no spool without protocol 2");
            await TestTasks.WaitUntilAsync(() => service.Get(name).State.Stream?.AppliedTransactions > 0, TimeSpan.FromSeconds(10), "the applied count in the state");
            var applied = service.Get(name).State.Stream!.AppliedTransactions;

            // Only another database is written: the heartbeat row still moves the slot past it, and latency is measured.
            await PostgresFixture.ExecuteAsync(db.SourceCluster, other, "CREATE TABLE noise (v text); INSERT INTO noise SELECT repeat('n', 1000) FROM generate_series(1, 20000)");
            var written = await db.SourceScalarAsync<string>("SELECT pg_current_wal_lsn()::text");
            await TestTasks.WaitUntilAsync(() => db.SourceScalarAsync<bool>($"SELECT confirmed_flush_lsn >= '{written}'::pg_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'").GetAwaiter().GetResult(),
                TimeSpan.FromSeconds(30), "the idle task's slot to move past the other database's writes");
            await TestTasks.WaitUntilAsync(() => service.Get(name).State.Stream?.LatencySeconds is >= 0 and < 30, TimeSpan.FromSeconds(30), "a latency from the heartbeat row");
            // Heartbeats moved the slot, but they are not transactions applied for the user.
            Assert.Equal(applied, service.Get(name).State.Stream!.AppliedTransactions);

            // A stop drains to the mark written at the request: rows committed just before it all arrive.
            await db.OnSourceAsync("INSERT INTO t SELECT g, 'last' FROM generate_series(5001, 5200) g");
            Assert.Equal(0, await harness.StopAsync());
            Assert.Equal(200L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM t WHERE v = 'last'"));
            Assert.Equal(SyncTaskStatus.Completed, service.Get(name).State.Status);
            Assert.False(service.Get(name).State.Stream?.HeartbeatTable);
            // The stream ended: slot, publication and heartbeat table are gone from the source.
            Assert.Equal(0L, await db.SourceScalarAsync<long>($"SELECT count(*) FROM pg_class WHERE relname = '{heartbeat.Name}'"));
            Assert.Equal(0L, await db.SourceScalarAsync<long>($"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"));
            Assert.Equal(0L, await db.SourceScalarAsync<long>($"SELECT count(*) FROM pg_namespace WHERE nspname = '{TaskNaming.HelperSchema}'"));
        }
        finally
        {
            await PostgresFixture.ExecuteAsync(db.SourceCluster, "postgres", $"DROP DATABASE IF EXISTS {other} WITH (FORCE)");
        }
    }

    [Fact]
    public async Task RemovingAPausedTaskRemovesItsHeartbeatTableFromTheSource()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY)");
        var service = new TaskService(_temp.Store);
        var task = service.Create("old-rm", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.Incremental });
        var heartbeat = HeartbeatTable.Name(task.Definition);
        await using (var harness = new StreamingHarness(service, db, "old-rm"))
        {
            await harness.StartAsync();
            var code = await harness.StopAsync(ControlAction.Pause);
            Assert.True(code == 0, $"The pause ended the worker with {code}: {service.Get("old-rm").State.Status}, {service.Get("old-rm").State.LastError?.Message}; " +
                string.Join(" | ", _temp.Store.ReadEvents("old-rm").Select(e => e.Event.Message)));
        }
        // Paused: the slot and the heartbeat table stay for the resume.
        Assert.Equal(1L, await db.SourceScalarAsync<long>($"SELECT count(*) FROM pg_class WHERE relname = '{heartbeat.Name}'"));
        // The state remembers it, so a removal that cannot reach the source still names it.
        Assert.True(service.Get("old-rm").State.Stream?.HeartbeatTable);
        Assert.Contains(service.DescribeRemoval(service.Get("old-rm")), a => a.Contains($"Table {heartbeat}", StringComparison.Ordinal));

        var report = await service.RemoveAsync("old-rm", force: false, CancellationToken.None);

        Assert.True(report.Complete, string.Join("; ", report.LeftBehind));
        Assert.Contains(report.Removed, r => r.StartsWith($"Table {heartbeat} on the source", StringComparison.Ordinal));
        Assert.Equal(0L, await db.SourceScalarAsync<long>($"SELECT count(*) FROM pg_class WHERE relname = '{heartbeat.Name}'"));
        Assert.Equal(0L, await db.SourceScalarAsync<long>($"SELECT count(*) FROM pg_namespace WHERE nspname = '{TaskNaming.HelperSchema}'"));
        Assert.Equal(0L, await db.SourceScalarAsync<long>($"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{TaskNaming.SlotName(task.Definition)}'"));
    }

    [Fact]
    public async Task WithAForAllTablesPublicationOnTheSourceTheStreamRunsWithoutAHeartbeatAndSaysWhy()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION theirs FOR ALL TABLES");
        var service = new TaskService(_temp.Store);
        var task = service.Create("old-all", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        await using var harness = new StreamingHarness(service, db, "old-all");
        await harness.StartAsync();

        // Their subscribers would get a table they lack: the task makes none, and says why.
        await TestTasks.WaitUntilAsync(() => _temp.Store.ReadEvents("old-all").Any(e => e.Event.Kind == Sync.SyncEventKind.Warning && e.Event.Message.Contains("FOR ALL TABLES publications (theirs)")),
            TimeSpan.FromSeconds(30), "the warning that names the publication");
        Assert.Equal(0L, await db.SourceScalarAsync<long>($"SELECT count(*) FROM pg_class WHERE relname = '{HeartbeatTable.Name(task.Definition).Name}'"));
        await db.OnSourceAsync("INSERT INTO t SELECT generate_series(1, 50)");

        // Without a heartbeat the stop drains until the stream is quiet, and nothing committed before it is lost.
        Assert.Equal(0, await harness.StopAsync());
        Assert.Equal(50L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM t"));
        Assert.Equal(SyncTaskStatus.Completed, service.Get("old-all").State.Status);
    }
}
