using Microsoft.Extensions.Logging.Abstractions;
using Sync.Engine.Runtime;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.FullSync;

[Collection(PostgresCollection.Name)]
public sealed class FullSyncTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task AFullTaskCopiesEveryTypeNameAndKindOfTable()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync(SampleSchemas.AllTypes);
        var service = new TaskService(_temp.Store);
        service.Create("full-1", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.Full });

        var exit = await new WorkerHost(_temp.Store, TaskRunner.For, NullLoggerFactory.Instance).RunAsync("full-1", CancellationToken.None);

        var state = _temp.Store.ReadState("full-1");
        Assert.True(exit == 0, state.LastError?.Message);
        Assert.Equal(SyncTaskStatus.Completed, state.Status);
        foreach (var table in new[] { "every_type", "\"Sales Dept\".\"Order Lines\"", "\"a\"\"b; drop table every_type\"", "no_key", "measurements", "customers", "orders", "order_totals" })
        {
            var expected = await db.SourceScalarAsync<long>($"SELECT count(*) FROM {table}");
            Assert.Equal(expected, await db.DestinationScalarAsync<long>($"SELECT count(*) FROM {table}"));
            var sourceHash = await db.SourceScalarAsync<string>($"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t");
            Assert.Equal(sourceHash, await db.DestinationScalarAsync<string>($"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t"));
        }
        Assert.Equal(await db.SourceScalarAsync<long>("SELECT last_value FROM invoice_no"), await db.DestinationScalarAsync<long>("SELECT last_value FROM invoice_no"));
        Assert.Equal(1L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM pg_indexes WHERE indexname = 'Qty Index'"));
        Assert.Equal(1L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = 'orders'::regclass"));
        Assert.Equal(2L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM pg_inherits WHERE inhparent = 'measurements'::regclass"));
        Assert.Equal(await db.SourceScalarAsync<long>("SELECT count(*) FROM big_orders"), await db.DestinationScalarAsync<long>("SELECT count(*) FROM big_orders"));
        // The identity sequence continues where the source's did.
        await db.OnDestinationAsync("INSERT INTO customers (name) VALUES ('next')");
        Assert.Equal(31L, await db.DestinationScalarAsync<long>("SELECT max(id) FROM customers"));
        Assert.Equal("survived", await db.DestinationScalarAsync<string>("SELECT v FROM \"a\"\"b; drop table every_type\""));
    }
}
