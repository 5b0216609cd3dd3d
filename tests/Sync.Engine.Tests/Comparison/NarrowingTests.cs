using Npgsql;
using Sync.Engine.Catalog;
using Sync.Engine.Compare;
using Sync.Engine.Connections;
using Sync.Engine.Schema;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Comparison;

/// <summary>Row-level comparison reads only what differs: large differing buckets are narrowed down first.</summary>
[Collection(PostgresCollection.Name)]
public sealed class NarrowingTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task ADifferingLargeBucketIsNarrowedSoOnlyAFewRowsAreReadAndEveryDifferenceIsFound()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        const string table = "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g";
        await db.OnSourceAsync(table);
        await db.OnDestinationAsync(table + "; UPDATE t SET v = 'damaged' WHERE id = 777; DELETE FROM t WHERE id = 12345; INSERT INTO t VALUES (30000, 'extra')");
        var service = new TaskService(_temp.Store);
        var task = service.Create("narrow", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name), d => d with { Mode = SyncTaskMode.Full });
        await using var source = service.Connections.CreateDataSource(task.Definition.Source, "test");
        await using var destination = service.Connections.CreateDataSource(task.Definition.Destination, "test");
        TaskScope scope;
        await using (var connection = await source.OpenConnectionAsync())
            scope = ScopeResolver.Resolve(task.Definition, await CatalogReader.ReadAsync(connection, includeFunctions: false, CancellationToken.None));
        var scoped = scope.Tables.Single(t => t.Name.Name == "t");

        // Four buckets of about 5,000 rows: each differing one is split into 64 sub-buckets before any row is read.
        var narrowed = await new TableComparer(source, destination) { MaxBuckets = 4, NarrowAbove = 500 }.CompareAsync(scoped, ComparisonLevel.Row, 10, CancellationToken.None);
        var whole = await new TableComparer(source, destination) { MaxBuckets = 4, NarrowAbove = int.MaxValue }.CompareAsync(scoped, ComparisonLevel.Row, 10, CancellationToken.None);

        foreach (var result in new[] { narrowed, whole })
        {
            Assert.Equal(ComparisonResult.Different, result.Result);
            Assert.Equal((1L, 1L, 1L), (result.MissingRows, result.ExtraRows, result.ChangedRows));
            Assert.Contains(result.Samples, s => s.Kind == "Changed" && s.Key.Contains("777") && s.DestinationRow!.Contains("damaged"));
            Assert.Contains(result.Samples, s => s.Kind == "Missing" && s.Key.Contains("12345"));
            Assert.Contains(result.Samples, s => s.Kind == "Extra" && s.Key.Contains("30000"));
        }
        Assert.InRange(narrowed.RowsRead, 3, 1000);
        Assert.True(whole.RowsRead >= 5000, $"without narrowing every row of the differing buckets is read ({whole.RowsRead})");
    }
}
