using Sync.Engine.Runtime;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Runtime;

[Collection(PostgresCollection.Name)]
public sealed class ServerCleanupTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task RemovingATaskRemovesEverythingNamedAfterItOnBothServers()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        var service = new TaskService(_temp.Store);
        var task = service.Create("cleanup-1", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name));
        var prefix = TaskNaming.Prefix(task.Definition);
        var sourceBefore = await SourceCatalogAsync(db);
        var destinationBefore = await DestinationCatalogAsync(db);
        // What a task creates while it runs: slot (and a temporary one), publication, origin, helper tables.
        await db.OnSourceAsync($"CREATE TABLE t(id int primary key)");
        await db.OnSourceAsync($"SELECT pg_create_logical_replication_slot('{prefix}', 'pgoutput')");
        await db.OnSourceAsync($"SELECT pg_create_logical_replication_slot('{prefix}_t1', 'pgoutput')");
        await db.OnSourceAsync($"CREATE PUBLICATION {prefix} FOR TABLE t");
        await db.OnDestinationAsync($"SELECT pg_replication_origin_create('{prefix}'); CREATE SCHEMA sync; " +
                                    $"CREATE TABLE sync.{prefix}_copy(x int); CREATE TABLE sync.{prefix}_checkpoint(x int)");
        _temp.Store.UpdateState("cleanup-1", s => s with { StartedAt = DateTimeOffset.UtcNow, Status = SyncTaskStatus.Stopped });

        var report = await service.RemoveAsync("cleanup-1", force: false, CancellationToken.None);

        Assert.True(report.Complete, string.Join("; ", report.LeftBehind));
        Assert.Equal(7, report.Removed.Count);
        Assert.Equal(sourceBefore, (await SourceCatalogAsync(db)).Where(x => x != "table t").ToList());
        Assert.Equal(destinationBefore, await DestinationCatalogAsync(db));
    }

    [Fact]
    public async Task AnUnreachableServerKeepsTheTaskUnlessForced()
    {
        var service = new TaskService(_temp.Store);
        TestTasks.CreateOffline(service, "cleanup-2");
        _temp.Store.UpdateState("cleanup-2", s => s with { StartedAt = DateTimeOffset.UtcNow, Status = SyncTaskStatus.Failed });

        var refused = await Assert.ThrowsAsync<Diagnostics.SyncException>(() => service.RemoveAsync("cleanup-2", force: false, CancellationToken.None));
        Assert.Contains("pg_drop_replication_slot", refused.Message);
        Assert.Single(_temp.Store.ListTaskNames());

        var report = await service.RemoveAsync("cleanup-2", force: true, CancellationToken.None);

        Assert.Empty(_temp.Store.ListTaskNames());
        Assert.Contains(report.LeftBehind, l => l.Kind == "ReplicationSlot" && l.RemoveSql.Contains("pg_drop_replication_slot"));
        Assert.Contains(report.LeftBehind, l => l.Kind == "Publication" && l.RemoveSql.StartsWith("DROP PUBLICATION"));
        Assert.DoesNotContain(report.LeftBehind, l => l.Reason.Contains("not-a-real-password"));
    }

    private static async Task<List<string>> SourceCatalogAsync(DatabasePair db) =>
        (await QueryAsync(db.SourceConnectionString,
            "SELECT 'slot ' || slot_name FROM pg_replication_slots WHERE database = current_database() UNION ALL " +
            "SELECT 'publication ' || pubname FROM pg_publication UNION ALL " +
            "SELECT 'table ' || relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1")).ToList();

    private static async Task<List<string>> DestinationCatalogAsync(DatabasePair db) =>
        (await QueryAsync(db.DestinationConnectionString,
            "SELECT 'origin ' || roname FROM pg_replication_origin UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname = 'sync' " +
            "UNION ALL SELECT 'table ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'sync' ORDER BY 1")).ToList();

    internal static async Task<IReadOnlyList<string>> QueryAsync(string connectionString, string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync()) rows.Add(reader.GetString(0));
        return rows;
    }
}
