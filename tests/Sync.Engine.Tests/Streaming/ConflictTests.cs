using Sync.Engine.Diagnostics;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Streaming;

/// <summary>Incremental tasks and the conflict policies (the reference documents' list of conflicts).</summary>
[Collection(PostgresCollection.Name)]
public sealed class ConflictTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    private const string Tables = "CREATE TABLE items (id int PRIMARY KEY, v text); CREATE TABLE audit (id int PRIMARY KEY, what text);";

    [Fact]
    public async Task IgnoreKeepsDestinationRowsAndRecordsEveryConflict()
    {
        await using var db = await PairAsync();
        var service = new TaskService(_temp.Store);
        Create(service, "conflict-ignore", db, ConflictPolicy.Ignore);
        await using var harness = new StreamingHarness(service, db, "conflict-ignore");
        await harness.StartAsync();

        await db.OnDestinationAsync("INSERT INTO items VALUES (1, 'destination'); INSERT INTO items VALUES (9, 'only on destination')");
        await db.OnSourceAsync("INSERT INTO items VALUES (1, 'source'), (2, 'two'); UPDATE items SET v = 'updated' WHERE id = 2; UPDATE items SET v = 'missing there' WHERE id = 3; DELETE FROM items WHERE id = 4");
        await harness.CatchUpAsync();

        Assert.Equal("destination", await db.DestinationScalarAsync<string>("SELECT v FROM items WHERE id = 1"));
        Assert.Equal("updated", await db.DestinationScalarAsync<string>("SELECT v FROM items WHERE id = 2"));
        var conflicts = _temp.Store.ReadEvents("conflict-ignore").Select(e => e.Event).Where(e => e.Kind == Sync.SyncEventKind.Conflict).ToList();
        Assert.Contains(conflicts, c => c.Data!["kind"] == "InsertExists" && c.Data["key"] == "(id=1)" && c.Data["resolution"].Contains("kept"));
        Assert.DoesNotContain(conflicts, c => c.Data!["key"] == "(id=2)");
    }

    [Fact]
    public async Task IncrementalTaskStreamsFromItsStartAndTurnsMissingRowsIntoInserts()
    {
        await using var db = await PairAsync();
        await db.OnSourceAsync("INSERT INTO items VALUES (3, 'before'), (4, 'before')");
        await db.OnDestinationAsync("INSERT INTO items VALUES (4, 'before')");
        var service = new TaskService(_temp.Store);
        Create(service, "conflict-incr", db, ConflictPolicy.Overwrite, SyncTaskMode.Incremental,
            operations: new Dictionary<string, TableOperations> { ["audit"] = TableOperations.Insert });
        await using var harness = new StreamingHarness(service, db, "conflict-incr");
        await harness.StartAsync();

        await db.OnDestinationAsync("INSERT INTO items VALUES (5, 'stale')");
        await db.OnSourceAsync("""
            UPDATE items SET v = 'updated' WHERE id = 3;
            DELETE FROM items WHERE id = 4;
            INSERT INTO items VALUES (5, 'fresh');
            INSERT INTO audit VALUES (1, 'kept'), (2, 'deleted later');
            DELETE FROM audit WHERE id = 2;
            """);
        await harness.CatchUpAsync();

        Assert.Equal("updated", await db.DestinationScalarAsync<string>("SELECT v FROM items WHERE id = 3"));
        Assert.Equal(0L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM items WHERE id = 4"));
        Assert.Equal("fresh", await db.DestinationScalarAsync<string>("SELECT v FROM items WHERE id = 5"));
        // Only inserts are synchronized for audit: the delete does not travel.
        Assert.Equal(2L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM audit"));
        var conflicts = _temp.Store.ReadEvents("conflict-incr").Select(e => e.Event).Where(e => e.Kind == Sync.SyncEventKind.Conflict).ToList();
        Assert.Contains(conflicts, c => c.Data!["kind"] == "UpdateMissing" && c.Data["key"] == "(id=3)");
        Assert.Contains(conflicts, c => c.Data!["kind"] == "InsertExists" && c.Data["key"] == "(id=5)" && c.Data["resolution"].Contains("Overwrite"));
    }

    [Fact]
    public async Task FailStopsTheTaskWithBothRowsAndResumesOnceResolved()
    {
        await using var db = await PairAsync();
        var service = new TaskService(_temp.Store);
        Create(service, "conflict-fail", db, ConflictPolicy.Fail);
        await using var harness = new StreamingHarness(service, db, "conflict-fail");
        await harness.StartAsync();

        await db.OnDestinationAsync("INSERT INTO items VALUES (7, 'in the way')");
        await db.OnSourceAsync("INSERT INTO items VALUES (6, 'six'); INSERT INTO items VALUES (7, 'seven')");

        Assert.Equal(Sync.Engine.Runtime.WorkerExitCode.TaskFailed, await harness.Worker.WaitAsync(TimeSpan.FromSeconds(60)));
        var failed = service.Get("conflict-fail").State;
        Assert.Equal(ErrorIds.ApplyConflict, failed.LastError!.ErrorId);
        Assert.Contains("public.items", failed.LastError.Message);
        Assert.Contains("id=7", failed.LastError.Message);
        Assert.Contains("v=seven", failed.LastError.Message);
        Assert.Contains("in the way", failed.LastError.Message);
        // Nothing of the failed group was applied.
        Assert.Equal(0L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM items WHERE id = 6"));

        await db.OnDestinationAsync("DELETE FROM items WHERE id = 7");
        await using var again = new StreamingHarness(service, db, "conflict-fail");
        await again.StartAsync();
        await again.CatchUpAsync();
        await again.AssertEqualAsync();
    }

    /// <summary>
    /// A table without a key (REPLICA IDENTITY FULL) whose row the destination lacks, updated twice in one source
    /// transaction while its TOAST value stays unchanged: the new row of the first update and the old row of the second
    /// are the same row, although the first carries the unchanged value as a marker and the second carries it whole.
    /// The row is inserted once, by the second update, with its unchanged value (the old row travels whole under FULL);
    /// read apart, both updates inserted a row, each without the value. On a table with a key the old row is only the key,
    /// so the unchanged value is not known: the insert leaves it out, and its event names the column.
    /// </summary>
    [Fact]
    public async Task AKeylessRowUpdatedTwiceWhileMissingIsInsertedOnceWithItsUnchangedToastValue()
    {
        await using var db = await PairAsync();
        const string Notes = "CREATE TABLE notes (n int, body text); ALTER TABLE notes ALTER COLUMN body SET STORAGE EXTERNAL; ALTER TABLE notes REPLICA IDENTITY FULL;";
        await db.OnSourceAsync(Notes + "INSERT INTO notes VALUES (1, repeat('toast ', 2000)), (10, repeat('kept ', 2000))");
        await db.OnDestinationAsync(Notes + "INSERT INTO notes VALUES (10, repeat('kept ', 2000))");
        const string Docs = "CREATE TABLE docs (id int PRIMARY KEY, n int, body text); ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;";
        await db.OnSourceAsync(Docs + "INSERT INTO docs VALUES (1, 1, repeat('doc ', 2000))");
        await db.OnDestinationAsync(Docs);
        var service = new TaskService(_temp.Store);
        Create(service, "conflict-keyless", db, ConflictPolicy.Overwrite, SyncTaskMode.Incremental);
        await using var harness = new StreamingHarness(service, db, "conflict-keyless");
        await harness.StartAsync();

        await db.OnSourceAsync("BEGIN; UPDATE notes SET n = 2 WHERE n = 1; UPDATE notes SET n = 3 WHERE n = 2; UPDATE notes SET n = 11 WHERE n = 10; COMMIT;");
        await db.OnSourceAsync("UPDATE docs SET n = 2");
        await harness.CatchUpAsync();

        Assert.Equal("3:12000 11:10000", await db.DestinationScalarAsync<string>("SELECT string_agg(n || ':' || coalesce(length(body), -1), ' ' ORDER BY n) FROM notes"));
        Assert.Equal("1:2:-1", await db.DestinationScalarAsync<string>("SELECT id || ':' || n || ':' || coalesce(length(body), -1) FROM docs"));
        var conflicts = _temp.Store.ReadEvents("conflict-keyless").Select(e => e.Event).Where(e => e.Kind == Sync.SyncEventKind.Conflict).ToList();
        Assert.Equal(["public.notes: left to a later change of the same row", "public.notes: inserted the source row",
            "public.docs: inserted the source row without body: the source sent no value for an unchanged out-of-line value, so the destination row differs there until the source changes it (Compare-SyncTask shows it)"],
            conflicts.Select(c => $"{c.Data!["table"]}: {c.Data["resolution"]}"));

        // Once the source changes the value, it travels and the tables are equal.
        await db.OnSourceAsync("UPDATE docs SET body = body || '.'");
        await harness.CatchUpAsync();
        await harness.AssertEqualAsync();
    }

    private async Task<DatabasePair> PairAsync([System.Runtime.CompilerServices.CallerMemberName] string test = "")
    {
        var db = await postgres.CreateDatabasesAsync(test);
        await db.OnSourceAsync(Tables);
        await db.OnDestinationAsync(Tables);
        return db;
    }

    private static void Create(TaskService service, string name, DatabasePair db, ConflictPolicy policy, SyncTaskMode mode = SyncTaskMode.FullIncremental,
        Dictionary<string, TableOperations>? operations = null) =>
        service.Create(name, TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name), d => d with
        {
            Mode = mode,
            Operations = operations ?? new Dictionary<string, TableOperations>(),
            Options = d.Options with { ConflictPolicy = policy, ExistingTables = ExistingTablePolicy.Ignore },
        });
}
