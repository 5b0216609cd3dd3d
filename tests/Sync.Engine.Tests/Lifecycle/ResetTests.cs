using Sync.Engine.Diagnostics;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Lifecycle;

/// <summary>Reset-SyncTask on each mode: what it refuses, what it plans, and that the task then runs again to an equal destination.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ResetTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task AFailedTaskWhoseSlotWasDroppedIsResetWithClearDestinationAndRunsAgainToAnEqualDestination()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync(WriteLoad.Schema);
        // A table outside the task on the destination: the reset must not touch it.
        await db.OnDestinationAsync("CREATE TABLE bystander (id int PRIMARY KEY); INSERT INTO bystander VALUES (1), (2)");
        var service = new TaskService(_temp.Store);
        var task = service.Create("reset-slot", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental, Selection = d.Selection with { IncludeTables = ["public.bench_*"] } });
        var slot = TaskNaming.SlotName(task.Definition);
        await using (var harness = new StreamingHarness(service, db, "reset-slot"))
        {
            await harness.StartAsync();
            await Assert.ThrowsAsync<SyncException>(() => service.ResetAsync("reset-slot", clearDestination: true, CancellationToken.None));
            await TestTasks.WaitUntilAsync(() => db.TryDropSlotInUse(slot), TimeSpan.FromSeconds(30), "the slot to be dropped");
            Assert.Equal(Sync.Engine.Runtime.WorkerExitCode.TaskFailed, await harness.Worker.WaitAsync(TimeSpan.FromSeconds(60)));
        }
        Assert.Equal(SyncTaskStatus.Failed, service.Get("reset-slot").State.Status);
        // The source moves on while the task is failed: updates, deletes, inserts it never saw.
        await db.OnSourceAsync("UPDATE bench_accounts SET abalance = 7 WHERE aid <= 100; DELETE FROM bench_accounts WHERE aid > 4900; INSERT INTO bench_tellers VALUES (11, 1, 0, '')");

        var before = await ServerSnapshot.TakeAsync(db, _temp.Root);
        var plan = await service.PlanResetAsync("reset-slot", clearDestination: true, CancellationToken.None);
        Assert.Equal(before, await ServerSnapshot.TakeAsync(db, _temp.Root));
        Assert.Equal(["public.bench_accounts", "public.bench_history", "public.bench_tellers"], plan.TablesToTruncate);
        Assert.Contains(plan.Actions, a => a.StartsWith("truncate table public.bench_accounts on the destination", StringComparison.Ordinal));
        Assert.Contains(plan.Actions, a => a.Contains("ReplicationSlot", StringComparison.Ordinal));
        Assert.DoesNotContain(plan.Actions, a => a.Contains("bystander", StringComparison.Ordinal));

        var report = await service.ResetAsync("reset-slot", clearDestination: true, CancellationToken.None);
        Assert.Equal(plan.TablesToTruncate, report.Truncated);
        Assert.True(report.Cleanup.Complete, string.Join("; ", report.Cleanup.LeftBehind));
        Assert.Equal(SyncTaskStatus.Created, report.Task.State.Status);
        Assert.Null(report.Task.State.LastError);
        Assert.Equal(0L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM bench_accounts"));
        Assert.Equal(2L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM bystander"));

        // The emptied tables are the task's own: the existing-table precheck (option Error) passes.
        var precheck = await service.RunPrechecksAsync("reset-slot", CancellationToken.None);
        Assert.True(precheck.Passed, string.Join("; ", precheck.Failures.Select(f => f.Message)));
        await using (var harness = new StreamingHarness(service, db, "reset-slot"))
        {
            await harness.StartAsync();
            await using (var load = new WriteLoad(db.SourceConnectionString, seed: 5))
            {
                await TestTasks.WaitUntilAsync(() => load.Transactions > 200, TimeSpan.FromSeconds(30), "some load");
                await load.StopAsync();
            }
            await harness.CatchUpAsync(TimeSpan.FromSeconds(90));
            await harness.AssertEqualAsync();
        }
        Assert.Equal(2L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM bystander"));
    }

    [Fact]
    public async Task AResetWithoutClearingKeepsTheRowsAndTheExistingTableOptionDecides()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, 'a' FROM generate_series(1, 100) g");
        var service = new TaskService(_temp.Store);
        service.Create("reset-keep", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        await using (var harness = new StreamingHarness(service, db, "reset-keep"))
        {
            await harness.StartAsync();
            await harness.StopAsync(ControlAction.Pause);
        }
        Assert.Equal(SyncTaskStatus.Paused, service.Get("reset-keep").State.Status);
        await db.OnSourceAsync("UPDATE items SET v = 'b' WHERE id <= 10; DELETE FROM items WHERE id > 90");

        // Restart-SyncTask -WhatIf on the paused task: the plan names the table and changes nothing.
        var unchanged = await ServerSnapshot.TakeAsync(db, _temp.Root);
        var again = service.PlanCopyAgain("reset-keep", ["items"]);
        Assert.Equal(["public.items"], again.Tables);
        Assert.Contains(again.Actions, a => a.Contains("when the task is resumed", StringComparison.Ordinal));
        Assert.Equal(unchanged, await ServerSnapshot.TakeAsync(db, _temp.Root));

        var plan = await service.PlanResetAsync("reset-keep", clearDestination: false, CancellationToken.None);
        Assert.Empty(plan.TablesToTruncate);
        await service.ResetAsync("reset-keep", clearDestination: false, CancellationToken.None);
        Assert.Equal(100L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM items"));
        Assert.Equal(0L, await db.SourceScalarAsync<long>("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'sync\\_reset\\_keep%'"));

        // The option Error: the kept rows block the start, and the remedy names the ways out.
        var refused = await service.RunPrechecksAsync("reset-keep", CancellationToken.None);
        var existing = Assert.Single(refused.Failures);
        Assert.Equal(Sync.Engine.Precheck.PrecheckIds.ExistingObjects, existing.Id);
        Assert.Contains("public.items", existing.Message);
        Assert.Contains("-ClearDestination", existing.Remedy);
        await Assert.ThrowsAsync<SyncException>(() => service.StartAsync("reset-keep", TestTasks.WorkerSpec, [], CancellationToken.None));

        // The option Ignore: the copy writes into the kept rows through the conflict policy; rows deleted on the source stay.
        service.Update("reset-keep", d => d with { Options = d.Options with { ExistingTables = ExistingTablePolicy.Ignore, ConflictPolicy = ConflictPolicy.Overwrite } });
        Assert.True((await service.RunPrechecksAsync("reset-keep", CancellationToken.None)).Passed);
        await using (var harness = new StreamingHarness(service, db, "reset-keep"))
        {
            await harness.StartAsync();
            var report = await harness.CompareAsync();
            var items = Assert.Single(report.Tables);
            Assert.Equal(10, items.ExtraRows);
            Assert.Equal(0, items.MissingRows);
            Assert.Equal(0, items.ChangedRows);
        }
    }

    [Fact]
    public async Task AnIncrementalTaskIsResetOntoItsSlotAndAMissingSlotIsExplained()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        const string table = "CREATE TABLE events (id int PRIMARY KEY, v text)";
        await db.OnSourceAsync(table);
        await db.OnDestinationAsync(table);
        var service = new TaskService(_temp.Store);
        var task = service.Create("reset-incr", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.Incremental });
        await using (var harness = new StreamingHarness(service, db, "reset-incr"))
        {
            await harness.StartAsync();
            await db.OnSourceAsync("INSERT INTO events SELECT g, 'a' FROM generate_series(1, 50) g");
            await harness.CatchUpAsync();
            var running = await Assert.ThrowsAsync<SyncException>(() => service.PlanResetAsync("reset-incr", false, CancellationToken.None));
            Assert.Contains("Running", running.Message);
            await harness.StopAsync(ControlAction.Pause);
        }
        await db.OnSourceAsync("INSERT INTO events SELECT g, 'b' FROM generate_series(51, 80) g; UPDATE events SET v = 'c' WHERE id <= 5");

        var clear = await Assert.ThrowsAsync<SyncException>(() => service.ResetAsync("reset-incr", clearDestination: true, CancellationToken.None));
        Assert.Contains("ClearDestination", clear.Message);
        var before = await ServerSnapshot.TakeAsync(db, _temp.Root);
        var plan = await service.PlanResetAsync("reset-incr", false, CancellationToken.None);
        Assert.Equal(before, await ServerSnapshot.TakeAsync(db, _temp.Root));
        Assert.Contains(plan.Actions, a => a.StartsWith("keep replication slot", StringComparison.Ordinal));

        var reset = await service.ResetAsync("reset-incr", false, CancellationToken.None);
        Assert.Equal(SyncTaskStatus.Created, reset.Task.State.Status);
        Assert.True((await service.RunPrechecksAsync("reset-incr", CancellationToken.None)).Passed);
        await using (var harness = new StreamingHarness(service, db, "reset-incr"))
        {
            await harness.StartAsync();
            await harness.CatchUpAsync();
            await harness.AssertEqualAsync();
            await harness.StopAsync(ControlAction.Pause);
        }

        await db.OnSourceAsync($"SELECT pg_drop_replication_slot('{TaskNaming.SlotName(task.Definition)}')");
        var missing = await Assert.ThrowsAsync<SyncException>(() => service.ResetAsync("reset-incr", false, CancellationToken.None));
        Assert.Equal(ErrorIds.ReplicationSlotMissing, missing.ErrorId);
        Assert.Contains("Set-SyncTask -Mode FullIncremental", missing.Message);
        Assert.Equal(SyncTaskStatus.Paused, service.Get("reset-incr").State.Status);
    }

    [Fact]
    public async Task ACompletedFullTaskIsResetWithClearDestinationAndCopiesTheSourceAsItIsNow()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE parent (id int PRIMARY KEY); CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent); " +
                               "INSERT INTO parent SELECT generate_series(1, 100); INSERT INTO child SELECT g, g FROM generate_series(1, 100) g");
        var service = new TaskService(_temp.Store);
        service.Create("reset-full", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.Full });
        var host = new Sync.Engine.Runtime.WorkerHost(service.Store, Sync.Engine.Runtime.TaskRunner.For, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        Assert.Equal(0, await host.RunAsync("reset-full", CancellationToken.None));
        Assert.Equal(SyncTaskStatus.Completed, service.Get("reset-full").State.Status);
        await db.OnSourceAsync("DELETE FROM child WHERE id > 50; DELETE FROM parent WHERE id > 50; UPDATE parent SET id = id + 1000 WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM child WHERE parent_id = 1)");

        var plan = await service.PlanResetAsync("reset-full", clearDestination: true, CancellationToken.None);
        Assert.Equal(["public.child", "public.parent"], plan.TablesToTruncate);
        Assert.DoesNotContain(plan.Actions, a => a.Contains("replication slot", StringComparison.OrdinalIgnoreCase) && a.Contains("new", StringComparison.Ordinal));
        // The two tables reference each other by a foreign key: one TRUNCATE empties both.
        var reset = await service.ResetAsync("reset-full", clearDestination: true, CancellationToken.None);
        Assert.Equal(SyncTaskStatus.Created, reset.Task.State.Status);
        Assert.Equal(0L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM parent"));
        Assert.True((await service.RunPrechecksAsync("reset-full", CancellationToken.None)).Passed);
        Assert.True(await host.RunAsync("reset-full", CancellationToken.None) == 0, service.Get("reset-full").State.LastError?.Message);
        var report = await new Sync.Engine.Compare.TaskComparer(service.Connections).CompareAsync(service.Get("reset-full"), ComparisonLevel.Row, null, 10, null, CancellationToken.None);
        Assert.True(report.AllEqual);
        Assert.Equal(50L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM child"));
    }
}
