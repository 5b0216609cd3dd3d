using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Streaming;

/// <summary>The slot does not hold WAL for writes the task does not carry, and a slot that holds too much is reported.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SlotHealthTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task WritesOnlyInAnotherDatabaseStillLetTheSlotAdvance()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE quiet (id int PRIMARY KEY)");
        var other = db.Name + "_other";
        await PostgresFixture.ExecuteAsync(db.SourceCluster, "postgres", $"CREATE DATABASE {other}");
        try
        {
            var service = new TaskService(_temp.Store);
            var task = service.Create("slot-idle", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
                d => d with { Mode = SyncTaskMode.FullIncremental });
            await using var harness = new StreamingHarness(service, db, "slot-idle");
            await harness.StartAsync();

            // 20 MB of WAL from another database: nothing for the task to apply, yet its slot must not keep it.
            await PostgresFixture.ExecuteAsync(db.SourceCluster, other, "CREATE TABLE noise (v text); INSERT INTO noise SELECT repeat('n', 1000) FROM generate_series(1, 20000)");
            var written = await db.SourceScalarAsync<string>("SELECT pg_current_wal_lsn()::text");
            var slot = TaskNaming.SlotName(task.Definition);
            await TestTasks.WaitUntilAsync(() => db.SourceScalarAsync<bool>($"SELECT confirmed_flush_lsn >= '{written}'::pg_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'").GetAwaiter().GetResult(),
                TimeSpan.FromSeconds(30), "the idle task's slot to move past the other database's writes");
            Assert.Equal(0L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM quiet"));
        }
        finally
        {
            await PostgresFixture.ExecuteAsync(db.SourceCluster, "postgres", $"DROP DATABASE IF EXISTS {other} WITH (FORCE)");
        }
    }

    [Fact]
    public async Task ASlotHoldingMoreWalThanTheThresholdRaisesAWarningEvent()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY, v text)");
        var service = new TaskService(_temp.Store);
        service.Create("slot-full", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental, Options = d.Options with { WalRetentionWarningBytes = 1 } });
        await using var harness = new StreamingHarness(service, db, "slot-full");
        await harness.StartAsync();
        await db.OnSourceAsync("INSERT INTO t SELECT g, 'x' FROM generate_series(1, 1000) g");

        await TestTasks.WaitUntilAsync(() => _temp.Store.ReadEvents("slot-full").Any(e => e.Event is { Kind: Sync.SyncEventKind.Warning, Level: Sync.SyncEventLevel.Warning } && e.Event.Message.Contains("of WAL on the source")),
            TimeSpan.FromSeconds(30), "the WAL retention warning");
        // Get-SyncTask shows how much the slot holds (the next report after the measurement).
        await TestTasks.WaitUntilAsync(() => service.Get("slot-full").State.Stream?.RetainedWalBytes > 0, TimeSpan.FromSeconds(30), "the retained WAL in the state");
    }
}
