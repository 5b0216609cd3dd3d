using System.Diagnostics;
using Npgsql;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Lifecycle;

/// <summary>
/// Tables copied again, added and removed while a FullIncremental task streams under a write load: each ends with an
/// equal comparison (the history table has no key, so a change applied twice or lost shows as a row difference).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class CopyAgainTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Events(string task) => string.Join(" | ", _temp.Store.ReadEvents(task).Select(e => e.Event.Message));

    /// <summary>Waits until no copy is pending (every table handed back to the stream); a failed task fails the wait with its error.</summary>
    private Task WaitForCopiesAsync(TaskService service, string task, string what) => TestTasks.WaitUntilAsync(() =>
    {
        var state = service.Get(task).State;
        if (state.Status == SyncTaskStatus.Failed) throw new InvalidOperationException(state.LastError?.Message + " | " + Events(task));
        return state.PendingBackfill.Count == 0;
    }, TimeSpan.FromSeconds(120), () => what + ": " + Events(task));

    [Fact]
    public async Task TablesCopiedAgainUnderLoadRejoinTheStreamWithNothingLostOrDoubled()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync(WriteLoad.Schema + "INSERT INTO bench_history SELECT 1, 1, g, g, now(), '' FROM generate_series(1, 50000) g;");
        var service = new TaskService(_temp.Store);
        service.Create("again-load", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        await using var harness = new StreamingHarness(service, db, "again-load");
        await harness.StartAsync();
        await using (var load = new WriteLoad(db.SourceConnectionString, seed: 11))
        {
            await TestTasks.WaitUntilAsync(() => load.Transactions > 100, TimeSpan.FromSeconds(30), "some load");
            // Damage the destination copy: copying the tables again must repair it.
            await db.OnDestinationAsync("UPDATE bench_accounts SET abalance = -1 WHERE aid <= 50; DELETE FROM bench_history WHERE aid <= 100");

            var before = await ServerSnapshot.TakeAsync(db, _temp.Root);
            var unmatched = await Assert.ThrowsAsync<Diagnostics.SyncException>(() => Task.FromResult(service.PlanCopyAgain("again-load", ["public.nothing_like_it"])));
            Assert.Contains("public.nothing_like_it", unmatched.Message);
            var plan = service.PlanCopyAgain("again-load", ["bench_accounts", "public.bench_history"]);
            Assert.Equal(["public.bench_accounts", "public.bench_history"], plan.Tables.Order());
            Assert.Contains(plan.Actions, a => a.StartsWith("empty public.bench_history on the destination", StringComparison.Ordinal));
            var lsnBefore = service.Get("again-load").State.Copy!.Tables.Single(t => t.Source == "public.bench_accounts").SnapshotLsn;

            service.RequestCopyAgain("again-load", ["bench_accounts", "public.bench_history"]);
            var requested = service.Get("again-load").State;
            Assert.True(requested.AwaitsCopy(requested.Copy!.Tables.Single(t => t.Source == "public.bench_accounts")));
            Assert.False(requested.AwaitsCopy(requested.Copy!.Tables.Single(t => t.Source == "public.bench_tellers")));
            await WaitForCopiesAsync(service, "again-load", "the tables to be copied again and handed back");
            var copied = service.Get("again-load").State.Copy!.Tables.Single(t => t.Source == "public.bench_accounts");
            Assert.Equal(TableCopyState.Copied, copied.State);
            Assert.False(service.Get("again-load").State.AwaitsCopy(copied));
            Assert.True(SyncLsn.Parse(copied.SnapshotLsn!) > SyncLsn.Parse(lsnBefore!));
            Assert.NotEqual(before, await ServerSnapshot.TakeAsync(db, _temp.Root));
            var load0 = load.Transactions;
            await TestTasks.WaitUntilAsync(() => load.Transactions > load0 + 200, TimeSpan.FromSeconds(30), "more load after the hand-over");
            await load.StopAsync();
        }
        await harness.CatchUpAsync(TimeSpan.FromSeconds(90));
        await harness.AssertEqualAsync();
        Assert.Contains(_temp.Store.ReadEvents("again-load"), e => e.Event.Message.Contains("copied again and back in the stream", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ATableAddedWhileRowsAreWrittenIntoItJoinsTheStreamAndARemovedOneLeavesIt()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync(WriteLoad.Schema +
            "CREATE TABLE extra (id int PRIMARY KEY, v int, note text); INSERT INTO extra SELECT g, 0, repeat('x', 100) FROM generate_series(1, 100000) g;");
        var service = new TaskService(_temp.Store);
        service.Create("again-add", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental, Selection = d.Selection with { IncludeTables = ["public.bench_*"] } });
        await using var harness = new StreamingHarness(service, db, "again-add");
        await harness.StartAsync();
        Assert.Equal(0L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'extra'"));
        using var stopWriter = new CancellationTokenSource();
        long writes = 0;
        var writer = Task.Run(async () =>
        {
            var random = new Random(3);
            await using var connection = new NpgsqlConnection(db.SourceConnectionString);
            await connection.OpenAsync();
            var next = 100001;
            while (!stopWriter.IsCancellationRequested)
            {
                var id = random.Next(1, 100001);
                await using var batch = new NpgsqlBatch(connection)
                {
                    BatchCommands =
                    {
                        new NpgsqlBatchCommand($"UPDATE extra SET v = v + 1 WHERE id = {id}"),
                        new NpgsqlBatchCommand($"INSERT INTO extra VALUES ({next++}, 1, 'new')"),
                        new NpgsqlBatchCommand($"DELETE FROM extra WHERE id = {random.Next(1, 100001)}"),
                    },
                };
                await batch.ExecuteNonQueryAsync();
                Interlocked.Increment(ref writes);
            }
        });
        await using (var load = new WriteLoad(db.SourceConnectionString, seed: 12))
        {
            await TestTasks.WaitUntilAsync(() => Interlocked.Read(ref writes) > 50, TimeSpan.FromSeconds(30), "writes into the new table");
            var revision = service.Get("again-add").Definition.Revision;
            var whatIf = await service.PlanUpdateAsync("again-add", new TaskChanges { AddTables = ["public.extra"] }, CancellationToken.None);
            Assert.Equal(["add public.extra: create it on the destination, copy it under its own snapshot while the stream runs, then stream it"], whatIf);
            Assert.Equal(revision, service.Get("again-add").Definition.Revision);
            service.Update("again-add", new TaskChanges { AddTables = ["public.extra"] });
            Assert.Contains("public.extra", service.Get("again-add").Definition.Selection.IncludeTables);
            await TestTasks.WaitUntilAsync(() =>
            {
                var state = service.Get("again-add").State;
                if (state.Status == SyncTaskStatus.Failed) throw new InvalidOperationException(state.LastError?.Message + " | " + Events("again-add"));
                return state.Copy!.Tables.Any(t => t.Source == "public.extra" && t.State == TableCopyState.Copied && t.SnapshotLsn is not null) &&
                       _temp.Store.ReadEvents("again-add").Any(e => e.Event.Message.Contains("public.extra copied again and back in the stream", StringComparison.Ordinal));
            }, TimeSpan.FromSeconds(120), () => "the added table to be copied and join the stream: " + Events("again-add"));
            var handedOver = Interlocked.Read(ref writes);
            await TestTasks.WaitUntilAsync(() => Interlocked.Read(ref writes) > handedOver + 100, TimeSpan.FromSeconds(30), "writes after the hand-over");
            await stopWriter.CancelAsync();
            await writer;
            await load.StopAsync();
        }
        await harness.CatchUpAsync(TimeSpan.FromSeconds(90));
        await harness.AssertEqualAsync();
        Assert.Contains((await harness.CompareAsync()).Tables, t => t.SourceTable == "public.extra");

        // Removing a table: it leaves the publication and the stream; its destination rows stay as they were.
        var kept = await db.DestinationScalarAsync<long>("SELECT count(*) FROM bench_history");
        Assert.Contains("remove public.bench_history: it leaves the publication and the stream; its destination rows are kept",
            await service.PlanUpdateAsync("again-add", new TaskChanges { RemoveTables = ["public.bench_history"] }, CancellationToken.None));
        service.Update("again-add", new TaskChanges { RemoveTables = ["public.bench_history"] });
        var publication = TaskNaming.PublicationName(service.Get("again-add").Definition);
        await TestTasks.WaitUntilAsync(() => db.SourceScalarAsync<long>(
            $"SELECT count(*) FROM pg_publication_tables WHERE pubname = '{publication}' AND tablename = 'bench_history'").GetAwaiter().GetResult() == 0,
            TimeSpan.FromSeconds(30), "bench_history to leave the publication");
        await db.OnSourceAsync("INSERT INTO bench_history SELECT 1, 1, 1, 1, now(), '' FROM generate_series(1, 10); UPDATE bench_tellers SET tbalance = 42 WHERE tid = 1");
        await harness.CatchUpAsync();
        Assert.Equal(kept, await db.DestinationScalarAsync<long>("SELECT count(*) FROM bench_history"));
        Assert.Equal(42, await db.DestinationScalarAsync<int>("SELECT tbalance FROM bench_tellers WHERE tid = 1"));
        Assert.DoesNotContain(service.Get("again-add").State.Copy!.Tables, t => t.Source == "public.bench_history");
        await harness.AssertEqualAsync();

        // A reset that clears the destination truncates the task's tables, not the one removed from it.
        await harness.StopAsync(ControlAction.Pause);
        var reset = await service.PlanResetAsync("again-add", clearDestination: true, CancellationToken.None);
        Assert.Equal(["public.bench_accounts", "public.bench_tellers", "public.extra"], reset.TablesToTruncate);
    }

    [Fact]
    public async Task AWorkerKilledDuringATableSyncCopiesTheTableAgainAfterItsRestart()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync(WriteLoad.Schema + "INSERT INTO bench_history SELECT 1, 1, g, g, now(), repeat('h', 20) FROM generate_series(1, 400000) g;");
        var service = new TaskService(_temp.Store);
        service.Create("again-kill", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental, Options = d.Options with { FlowControl = new FlowControl { RowsPerSecond = 100_000 } } });
        var started = await service.LaunchWorkerAsync("again-kill", TestTasks.WorkerSpec, CancellationToken.None);
        await TestTasks.WaitUntilAsync(() => service.Get("again-kill").State.Stage == SyncTaskStage.RealtimeSync, TimeSpan.FromSeconds(120), "streaming");
        await using (var load = new WriteLoad(db.SourceConnectionString, seed: 13))
        {
            await TestTasks.WaitUntilAsync(() => load.Transactions > 100, TimeSpan.FromSeconds(30), "some load");
            service.Update("again-kill", new TaskChanges { RowsPerSecond = 50_000 });
            service.RequestCopyAgain("again-kill", ["bench_history"]);
            // Kill the worker in the middle of the table's copy (flow control keeps it going for several seconds).
            await TestTasks.WaitUntilAsync(() => service.Get("again-kill").State.Copy!.Tables.Any(t => t.Source == "public.bench_history" && t.State == TableCopyState.Copying && t.RowsCopied > 0),
                TimeSpan.FromSeconds(60), () => "the table sync to copy rows: " + Events("again-kill"));
            using (var worker = Process.GetProcessById(service.Get("again-kill").State.Worker?.ProcessId ?? started.State.Worker!.ProcessId))
            {
                worker.Kill();
                await worker.WaitForExitAsync();
            }
            Assert.Contains("public.bench_history", service.Get("again-kill").State.PendingBackfill);
            await TestTasks.WaitUntilAsync(() => service.Get("again-kill").Worker == Sync.WorkerLiveness.Dead, TimeSpan.FromSeconds(10), "the dead worker to show");
            service.Update("again-kill", new TaskChanges { RemoveFlowLimits = true });
            await service.LaunchWorkerAsync("again-kill", TestTasks.WorkerSpec, CancellationToken.None);
            await WaitForCopiesAsync(service, "again-kill", "the table sync to be redone");
            var load0 = load.Transactions;
            await TestTasks.WaitUntilAsync(() => load.Transactions > load0 + 100, TimeSpan.FromSeconds(30), "more load after the hand-over");
            await load.StopAsync();
        }
        await using var harness = new StreamingHarness(service, db, "again-kill");
        await harness.CatchUpAsync(TimeSpan.FromSeconds(90));
        await harness.AssertEqualAsync();
        await service.RequestStopAsync("again-kill", ControlAction.Stop, wait: true, CancellationToken.None);
        Assert.Equal(0L, await db.SourceScalarAsync<long>("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'sync\\_again\\_kill%'"));
    }

    [Fact]
    public async Task ARerunAddsTheColumnsTheSourceGainedAndCopiesEveryTableWhileStreaming()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync(WriteLoad.Schema);
        var service = new TaskService(_temp.Store);
        service.Create("again-rerun", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        await using var harness = new StreamingHarness(service, db, "again-rerun");
        await harness.StartAsync();
        await using (var load = new WriteLoad(db.SourceConnectionString, seed: 14))
        {
            await TestTasks.WaitUntilAsync(() => load.Transactions > 100, TimeSpan.FromSeconds(30), "some load");
            await harness.CatchUpAsync();   // the stream has read the source's schema
            // The source gains a column the task does not know (DDL is not streamed); its values exist only there, and
            // the stream says so.
            await db.OnSourceAsync("ALTER TABLE bench_tellers ADD COLUMN region text DEFAULT 'north'; UPDATE bench_tellers SET region = 'south' WHERE tid <= 3");
            await TestTasks.WaitUntilAsync(() => _temp.Store.ReadEvents("again-rerun").Any(e => e.Event.Level == SyncEventLevel.Warning &&
                e.Event.Message.StartsWith("public.bench_tellers has column region on the source that the task does not carry", StringComparison.Ordinal) &&
                e.Event.Message.Contains("Restart-SyncTask 'again-rerun'", StringComparison.Ordinal)), TimeSpan.FromSeconds(30), () => "the unknown column warning: " + Events("again-rerun"));
            Assert.Equal(SyncTaskStatus.Running, service.Get("again-rerun").State.Status);
            var plan = service.PlanCopyAgain("again-rerun", null);
            Assert.True(plan.Rerun);
            Assert.Equal(3, plan.Tables.Count);
            Assert.StartsWith("add destination columns", plan.Actions[0], StringComparison.Ordinal);

            service.RequestCopyAgain("again-rerun", null);
            await WaitForCopiesAsync(service, "again-rerun", "the rerun to finish");
            var columns = await db.DestinationScalarAsync<string>("SELECT string_agg(attname, ',') FROM pg_attribute WHERE attrelid = 'bench_tellers'::regclass AND attnum > 0");
            Assert.True(columns.Contains("region", StringComparison.Ordinal), $"no region column ({columns}): {Events("again-rerun")}");
            Assert.Equal("south", await db.DestinationScalarAsync<string>("SELECT region FROM bench_tellers WHERE tid = 1"));
            var load0 = load.Transactions;
            await TestTasks.WaitUntilAsync(() => load.Transactions > load0 + 100, TimeSpan.FromSeconds(30), "more load after the rerun");
            await load.StopAsync();
        }
        await db.OnSourceAsync("UPDATE bench_tellers SET region = 'east' WHERE tid = 4");
        await harness.CatchUpAsync(TimeSpan.FromSeconds(90));
        // The stream now carries the new column too.
        Assert.Equal("east", await db.DestinationScalarAsync<string>("SELECT region FROM bench_tellers WHERE tid = 4"));
        await harness.AssertEqualAsync();
        Assert.Contains(_temp.Store.ReadEvents("again-rerun"), e => e.Event.Message.StartsWith("Column region (text) added to public.bench_tellers", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ATableReferencedByAnotherIsCopiedAgainWithoutTouchingTheOther()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE parent (id int PRIMARY KEY, v text); CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent); " +
                               "INSERT INTO parent SELECT g, 'a' FROM generate_series(1, 1000) g; INSERT INTO child SELECT g, g FROM generate_series(1, 1000) g");
        var service = new TaskService(_temp.Store);
        service.Create("again-fk", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        await using var harness = new StreamingHarness(service, db, "again-fk");
        await harness.StartAsync();
        await db.OnDestinationAsync("UPDATE parent SET v = 'damaged' WHERE id <= 10");
        service.RequestCopyAgain("again-fk", ["parent"]);
        await db.OnSourceAsync("UPDATE parent SET v = 'b' WHERE id = 500; INSERT INTO parent VALUES (1001, 'new'); INSERT INTO child VALUES (1001, 1001)");
        await TestTasks.WaitUntilAsync(() => service.Get("again-fk").State.PendingBackfill.Count == 0, TimeSpan.FromSeconds(60), () => "parent to be copied again: " + Events("again-fk"));
        await harness.CatchUpAsync();
        await harness.AssertEqualAsync();
        Assert.Equal(1001L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM child"));
    }
}
