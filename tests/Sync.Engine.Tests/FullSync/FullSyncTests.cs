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
        Assert.Equal("survived", await db.DestinationScalarAsync<string>("SELECT v FROM \"a\"\"b; drop table every_type\""));

        var report = await Compare(service, "full-1", ComparisonLevel.Row);
        Assert.True(report.AllEqual, string.Join("; ", report.Tables.Where(t => t.Result != ComparisonResult.Equal).Select(t => $"{t.SourceTable}: {t.Result} {t.Error}")));
        Assert.Equal(9, report.Tables.Count);

        // A corrupted destination is found, down to the rows.
        await db.OnDestinationAsync("UPDATE every_type SET txt = 'tampered' WHERE id = 7; DELETE FROM every_type WHERE id = 8; DELETE FROM no_key WHERE ctid = (SELECT min(ctid) FROM no_key)");
        var after = await Compare(service, "full-1", ComparisonLevel.Row);
        var everyType = after.Tables.Single(t => t.SourceTable == "public.every_type");
        Assert.Equal(ComparisonResult.Different, everyType.Result);
        Assert.Equal(1, everyType.ChangedRows);
        Assert.Equal(1, everyType.MissingRows);
        Assert.Contains(everyType.Samples, s => s.Kind == "Changed" && s.Key.Contains('7') && s.DestinationRow!.Contains("tampered"));
        var noKey = after.Tables.Single(t => t.SourceTable == "public.no_key");
        Assert.Equal(1, noKey.MissingRows);
        Assert.Equal(ComparisonResult.Equal, after.Tables.Single(t => t.SourceTable == "public.orders").Result);
        var counts = await Compare(service, "full-1", ComparisonLevel.RowCount);
        Assert.Equal(200, counts.Tables.Single(t => t.SourceTable == "public.every_type").DestinationRows);

        // The identity sequence continues where the source's did.
        await db.OnDestinationAsync("INSERT INTO customers (name) VALUES ('next')");
        Assert.Equal(31L, await db.DestinationScalarAsync<long>("SELECT max(id) FROM customers"));
    }

    [Fact]
    public async Task MappingFiltersAndColumnSelectionApplyToSchemaDataAndComparison()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("""
            CREATE SCHEMA shop;
            CREATE TABLE shop.orders (id int PRIMARY KEY, region text NOT NULL, secret text, amount numeric CHECK (amount >= 0));
            CREATE INDEX orders_region ON shop.orders (region);
            INSERT INTO shop.orders SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, 'pw' || g, g FROM generate_series(1, 100) g;
            CREATE TABLE shop.skipped (id int);
            """);
        var service = new TaskService(_temp.Store);
        service.Create("map-1", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name), d => new TaskChanges
        {
            Mode = SyncTaskMode.Full,
            IncludeSchemas = ["shop"],
            ExcludeTables = ["skipped"],
            SchemaMapping = new Dictionary<string, string> { ["shop"] = "archive" },
            TableMapping = new Dictionary<string, string> { ["shop.orders"] = "orders_2024" },
            ColumnMapping = new Dictionary<string, IReadOnlyDictionary<string, string>> { ["shop.orders"] = new Dictionary<string, string> { ["amount"] = "\"Total Amount\"" } },
            ExcludeColumns = new Dictionary<string, IReadOnlyList<string>> { ["shop.orders"] = ["secret"] },
            RowFilters = new Dictionary<string, string> { ["shop.orders"] = "region = 'eu'" },
        }.ApplyTo(d, _temp.Store.Secrets));

        var exit = await new WorkerHost(_temp.Store, TaskRunner.For, NullLoggerFactory.Instance).RunAsync("map-1", CancellationToken.None);

        Assert.True(exit == 0, _temp.Store.ReadState("map-1").LastError?.Message);
        Assert.Equal(50L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM archive.orders_2024"));
        Assert.Equal(0L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM archive.orders_2024 WHERE region <> 'eu'"));
        Assert.Equal(0L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders_2024' AND column_name = 'secret'"));
        Assert.Equal(2550m, await db.DestinationScalarAsync<decimal>("SELECT sum(\"Total Amount\") FROM archive.orders_2024"));
        Assert.Equal(0L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM pg_tables WHERE tablename = 'skipped'"));
        // Mapped tables get index and constraint names by the reference rule: i_/c_ + hash + name + _key.
        Assert.Equal(1L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM pg_indexes WHERE tablename = 'orders_2024' AND indexname ~ '^i_[0-9a-f]{8}orders_region_key$'"));
        Assert.Equal(1L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM pg_constraint WHERE conrelid = 'archive.orders_2024'::regclass AND contype = 'c' AND conname ~ '^c_[0-9a-f]{8}orders_amount_check_key$' AND pg_get_constraintdef(oid) LIKE '%\"Total Amount\"%'"));
        Assert.True((await Compare(service, "map-1", ComparisonLevel.Row)).AllEqual);
    }

    [Fact]
    public async Task CollationsMadeOnTheSourceAreCreatedOnTheDestinationUnderTheMappedSchema()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("""
            CREATE SCHEMA crm;
            CREATE COLLATION crm.case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
            CREATE COLLATION crm.bytewise (provider = libc, locale = 'C');
            CREATE TABLE crm.users (id int PRIMARY KEY, email text COLLATE crm.case_insensitive UNIQUE, code text COLLATE crm.bytewise, note text COLLATE "C");
            INSERT INTO crm.users VALUES (1, 'Ann@Example.org', 'b', 'x'), (2, 'bob@example.org', 'a', 'y');
            """);
        var service = new TaskService(_temp.Store);
        service.Create("coll-1", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name), d => new TaskChanges
        {
            Mode = SyncTaskMode.Full, IncludeSchemas = ["crm"], SchemaMapping = new Dictionary<string, string> { ["crm"] = "crm_copy" },
        }.ApplyTo(d, _temp.Store.Secrets));

        var exit = await new WorkerHost(_temp.Store, TaskRunner.For, NullLoggerFactory.Instance).RunAsync("coll-1", CancellationToken.None);

        Assert.True(exit == 0, _temp.Store.ReadState("coll-1").LastError?.Message);
        Assert.Equal("crm_copy.case_insensitive|false|crm_copy.bytewise",
            await db.DestinationScalarAsync<string>("""
                SELECT (SELECT n.nspname || '.' || c.collname || '|' || c.collisdeterministic FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace WHERE c.collname = 'case_insensitive')
                    || '|' || (SELECT n.nspname || '.' || c.collname FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace WHERE c.collname = 'bytewise')
                """));
        // The column keeps its behaviour: the nondeterministic collation still matches regardless of case.
        Assert.Equal(1L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM crm_copy.users WHERE email = 'ANN@EXAMPLE.ORG'"));
        Assert.Equal("C", await db.DestinationScalarAsync<string>("SELECT collation_name FROM information_schema.columns WHERE table_schema = 'crm_copy' AND column_name = 'note'"));
        Assert.True((await Compare(service, "coll-1", ComparisonLevel.Row)).AllEqual);
    }

    [Fact]
    public async Task ExistingDestinationTablesFailTheTaskUnlessIgnored()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, 'src' FROM generate_series(1, 10) g");
        await db.OnDestinationAsync("CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'dst'), (42, 'only here')");
        var service = new TaskService(_temp.Store);
        service.Create("exists-1", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name), d => d with { Mode = SyncTaskMode.Full });

        Assert.Equal(WorkerExitCode.TaskFailed, await new WorkerHost(_temp.Store, TaskRunner.For, NullLoggerFactory.Instance).RunAsync("exists-1", CancellationToken.None));
        var failed = _temp.Store.ReadState("exists-1");
        Assert.Equal(SyncTaskStatus.Failed, failed.Status);
        Assert.Equal(Diagnostics.ErrorIds.DestinationTableExists, failed.LastError!.ErrorId);
        Assert.Contains("public.items", failed.LastError.Message);

        service.Create("exists-2", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.Full, Options = d.Options with { ExistingTables = ExistingTablePolicy.Ignore, ConflictPolicy = ConflictPolicy.Overwrite } });
        Assert.Equal(0, await new WorkerHost(_temp.Store, TaskRunner.For, NullLoggerFactory.Instance).RunAsync("exists-2", CancellationToken.None));
        Assert.Equal("src", await db.DestinationScalarAsync<string>("SELECT v FROM items WHERE id = 1"));
        Assert.Equal("only here", await db.DestinationScalarAsync<string>("SELECT v FROM items WHERE id = 42"));
        Assert.Equal(11L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM items"));
    }

    private async Task<Compare.ComparisonReport> Compare(TaskService service, string task, ComparisonLevel level) =>
        await new Compare.TaskComparer(service.Connections).CompareAsync(service.Get(task), level, null, 10, null, CancellationToken.None);
}
