using Npgsql;
using Sync.Engine.Precheck;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Precheck;

/// <summary>Each precheck against a real server set up to fail it.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PrecheckTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();
    private readonly List<(PostgresCluster Cluster, string Role)> _roles = [];

    public void Dispose()
    {
        foreach (var (cluster, role) in _roles)
        {
            try
            {
                PostgresFixture.ExecuteAsync(cluster, "postgres", $"DROP OWNED BY {role} CASCADE").GetAwaiter().GetResult();
                PostgresFixture.ExecuteAsync(cluster, "postgres", $"DROP ROLE IF EXISTS {role}").GetAwaiter().GetResult();
            }
            catch (NpgsqlException) { }
        }
        _temp.Dispose();
    }

    [Fact]
    public async Task AHealthyPairPassesEveryCheckAndMakesTheTaskReady()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY, v int)");
        var service = new TaskService(_temp.Store);
        Create(service, "pc-ok", db, SyncTaskMode.FullIncremental);

        var report = await service.RunPrechecksAsync("pc-ok", CancellationToken.None);

        Assert.True(report.Passed, string.Join("; ", report.Failures.Select(f => $"{f.Id}: {f.Message}")));
        Assert.Equal(100, report.SuccessRate);
        Assert.Contains(report.Checks, c => c.Id == PrecheckIds.ReplicationConnection && c.Outcome == PrecheckOutcome.Passed);
        // The test clusters keep unlimited WAL for slots: that is a warning, with the setting to change.
        Assert.Contains(report.Checks, c => c.Id == PrecheckIds.SlotWalRetention && c.Outcome == PrecheckOutcome.Warning && c.Remedy!.Contains("max_slot_wal_keep_size"));
        Assert.Equal(SyncTaskStatus.Ready, service.Get("pc-ok").State.Status);
    }

    [Fact]
    public async Task ConnectionFailuresQuoteTheServer()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        var service = new TaskService(_temp.Store);
        service.Create("pc-conn", TestTasks.Endpoint(db.SourceCluster, db.Name, password: "wrong-password"), TestTasks.Unreachable(db.Name));

        var report = await service.RunPrechecksAsync("pc-conn", CancellationToken.None);

        Assert.Contains("password authentication failed", Find(report, PrecheckIds.SourceConnectivity, PrecheckOutcome.Failed).Message);
        Assert.Contains("refused", Find(report, PrecheckIds.DestinationConnectivity, PrecheckOutcome.Failed).Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("wrong-password", string.Join(" ", report.Checks.Select(c => c.Message)));
        Assert.False(report.Passed);
        Assert.Equal(SyncTaskStatus.Created, service.Get("pc-conn").State.Status);
    }

    [Fact]
    public async Task MissingPrivilegesAreListedWithGrants()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE secret (id int PRIMARY KEY); CREATE TABLE open (id int PRIMARY KEY)");
        var reader = await RoleAsync(db.SourceCluster, "NOREPLICATION");
        await db.OnSourceAsync($"GRANT SELECT ON open TO {reader}");
        var writer = await RoleAsync(db.DestinationCluster, "");
        await db.OnDestinationAsync($"REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE CREATE ON DATABASE \"{db.Name}\" FROM PUBLIC");
        var service = new TaskService(_temp.Store);
        service.Create("pc-priv", TestTasks.Endpoint(db.SourceCluster, db.Name, reader, "pw"), TestTasks.Endpoint(db.DestinationCluster, db.Name, writer, "pw"),
            d => d with { Mode = SyncTaskMode.FullIncremental });

        var report = await service.RunPrechecksAsync("pc-priv", CancellationToken.None);

        var source = Find(report, PrecheckIds.SourcePrivileges, PrecheckOutcome.Failed);
        Assert.Contains("SELECT on public.secret", source.Message);
        Assert.Contains("GRANT SELECT ON \"public\".\"secret\"", source.Remedy);
        Assert.DoesNotContain("public.open", source.Message);
        Assert.Contains("ALTER ROLE", Find(report, PrecheckIds.ReplicationPrivilege, PrecheckOutcome.Failed).Remedy);
        Assert.Contains("CREATE", Find(report, PrecheckIds.DestinationPrivileges, PrecheckOutcome.Failed).Message);
        Assert.Contains("session_replication_role", Find(report, PrecheckIds.SessionReplicationRole, PrecheckOutcome.Warning).Message);
    }

    [Fact]
    public async Task SchemaUsageAndSequencePrivilegesAreCheckedAndAMissingConnectGrantQuotesTheServer()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE SCHEMA hidden; CREATE TABLE hidden.t (id int PRIMARY KEY); CREATE SCHEMA counted; CREATE TABLE counted.t (id serial PRIMARY KEY)");
        var reader = await RoleAsync(db.SourceCluster, "");
        await db.OnSourceAsync($"GRANT SELECT ON hidden.t TO {reader}; GRANT USAGE ON SCHEMA counted TO {reader}; GRANT SELECT ON counted.t TO {reader}");
        var service = new TaskService(_temp.Store);
        service.Create("pc-usage", TestTasks.Endpoint(db.SourceCluster, db.Name, reader, "pw"), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.Full, Selection = d.Selection with { IncludeSchemas = ["hidden", "counted"] } });

        var report = await service.RunPrechecksAsync("pc-usage", CancellationToken.None);

        var privileges = Find(report, PrecheckIds.SourcePrivileges, PrecheckOutcome.Failed);
        Assert.Contains("USAGE on schema hidden", privileges.Message);
        Assert.Contains("SELECT on sequence counted.t_id_seq", privileges.Message);
        Assert.Contains($"GRANT USAGE ON SCHEMA \"hidden\" TO \"{reader}\";", privileges.Remedy);
        Assert.Contains($"GRANT SELECT ON SEQUENCE \"counted\".\"t_id_seq\" TO \"{reader}\";", privileges.Remedy);

        await db.OnSourceAsync($"REVOKE CONNECT ON DATABASE \"{db.Name}\" FROM PUBLIC");
        var refused = await service.RunPrechecksAsync("pc-usage", CancellationToken.None);
        Assert.Contains("permission denied for database", Find(refused, PrecheckIds.SourceConnectivity, PrecheckOutcome.Failed).Message);
    }

    [Fact]
    public async Task AnEndpointThatRequiresSslFailsAgainstAServerWithoutIt()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY)");
        var service = new TaskService(_temp.Store);
        service.Create("pc-ssl", TestTasks.Endpoint(db.SourceCluster, db.Name) with { SslMode = SslModeOption.Require }, TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.Full });

        var report = await service.RunPrechecksAsync("pc-ssl", CancellationToken.None);

        var check = Find(report, PrecheckIds.SourceConnectivity, PrecheckOutcome.Failed);
        Assert.Contains("SSL", check.Message, StringComparison.OrdinalIgnoreCase);
        Find(report, PrecheckIds.DestinationConnectivity, PrecheckOutcome.Passed);
    }

    [Fact]
    public async Task ARoleThatMayNotReplicateFailsTheReplicationConnection()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY)");
        var role = await RoleAsync(db.SourceCluster, "NOREPLICATION");
        await db.OnSourceAsync($"GRANT SELECT ON t TO {role}");
        var service = new TaskService(_temp.Store);
        service.Create("pc-repl", TestTasks.Endpoint(db.SourceCluster, db.Name, role, "pw"), TestTasks.Endpoint(db.DestinationCluster, db.Name));

        var report = await service.RunPrechecksAsync("pc-repl", CancellationToken.None);

        var check = Find(report, PrecheckIds.ReplicationConnection, PrecheckOutcome.Failed);
        Assert.Contains("replication", check.Message);
        Assert.Contains("REPLICATION", check.Remedy);
        Find(report, PrecheckIds.SourceConnectivity, PrecheckOutcome.Passed);
        Find(report, PrecheckIds.SourcePrivileges, PrecheckOutcome.Passed);
    }

    [Fact]
    public async Task KeysFiltersExistingObjectsAndUnloggedTablesAreReported()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("""
            CREATE TABLE no_key (a int);
            CREATE TABLE text_key (code text PRIMARY KEY);
            CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY);
            CREATE TABLE clash (id int PRIMARY KEY);
            """);
        await db.OnDestinationAsync("CREATE TABLE clash (id int)");
        var service = new TaskService(_temp.Store);
        Create(service, "pc-keys", db, SyncTaskMode.FullIncremental, d => d with { RowFilters = new Dictionary<string, string> { ["no_key"] = "no_such_column > 1" } });

        var report = await service.RunPrechecksAsync("pc-keys", CancellationToken.None);

        Assert.Contains("ALTER TABLE \"public\".\"no_key\" REPLICA IDENTITY FULL;", Find(report, PrecheckIds.ReplicaIdentity, PrecheckOutcome.Warning).Remedy);
        Assert.Contains("public.text_key", Find(report, PrecheckIds.ToastablePrimaryKey, PrecheckOutcome.Warning).Message);
        Assert.Contains("no_such_column", Find(report, PrecheckIds.RowFilters, PrecheckOutcome.Failed).Message);
        Assert.Contains("public.clash", Find(report, PrecheckIds.ExistingObjects, PrecheckOutcome.Failed).Message);
        Assert.Contains("public.scratch", Find(report, PrecheckIds.UnsupportedObjects, PrecheckOutcome.Warning).Message);

        service.Update("pc-keys", new TaskChanges { ExistingTables = ExistingTablePolicy.Ignore, RowFilters = new Dictionary<string, string>() });
        var relaxed = await service.RunPrechecksAsync("pc-keys", CancellationToken.None);
        Find(relaxed, PrecheckIds.ExistingObjects, PrecheckOutcome.Warning);
        Assert.DoesNotContain(relaxed.Checks, c => c.Id == PrecheckIds.RowFilters);
    }

    [Fact]
    public async Task AServerCollationTheDestinationLacksFailsWithTheCollationNamed()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        // Any locale the server imported at initdb; the destination database then loses it.
        var name = await db.SourceScalarAsync<string>("""
            SELECT collname FROM pg_collation
            WHERE collnamespace = 'pg_catalog'::regnamespace AND collname NOT IN ('default', 'C', 'POSIX', 'ucs_basic')
              AND collencoding IN (-1, (SELECT encoding FROM pg_database WHERE datname = current_database()))
            ORDER BY collname LIMIT 1
            """);
        var quoted = Sync.Engine.Catalog.Identifier.Quote(name);
        await db.OnSourceAsync($"CREATE TABLE words (id int PRIMARY KEY, w text COLLATE pg_catalog.{quoted}, c text COLLATE \"C\")");
        var service = new TaskService(_temp.Store);
        Create(service, "pc-coll", db, SyncTaskMode.Full);
        Assert.Contains(quoted, Find(await service.RunPrechecksAsync("pc-coll", CancellationToken.None), PrecheckIds.Collations, PrecheckOutcome.Passed).Message);

        await db.OnDestinationAsync($"DROP COLLATION pg_catalog.{quoted}");
        var failed = Find(await service.RunPrechecksAsync("pc-coll", CancellationToken.None), PrecheckIds.Collations, PrecheckOutcome.Failed);
        Assert.Contains($"\"pg_catalog\".{quoted}", failed.Message);
        Assert.DoesNotContain("\"C\"", failed.Message);
        Assert.Contains("pg_import_system_collations", failed.Remedy);
    }

    [Fact]
    public async Task ADestinationPublishingAllItsTablesIsWarnedOfTheHelperTablesItWouldSend()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY, v int)");
        var service = new TaskService(_temp.Store);
        var task = Create(service, "pc-pub", db, SyncTaskMode.FullIncremental);
        Find(await service.RunPrechecksAsync("pc-pub", CancellationToken.None), PrecheckIds.DestinationPublications, PrecheckOutcome.Passed);

        await db.OnDestinationAsync("CREATE PUBLICATION downstream FOR ALL TABLES");
        var warned = Find(await service.RunPrechecksAsync("pc-pub", CancellationToken.None), PrecheckIds.DestinationPublications, PrecheckOutcome.Warning);
        Assert.True(warned.Ignorable);
        Assert.Contains("downstream", warned.Message);
        Assert.Contains(TaskNaming.CopyProgressTable(task.Definition), warned.Message);
        Assert.Contains(TaskNaming.CheckpointTable(task.Definition), warned.Message);
        Assert.Contains("ALTER PUBLICATION", warned.Remedy);

        // The form of the query for destinations before 15 (no publications of a schema) finds the same.
        await using (var dst = new NpgsqlConnection(db.DestinationConnectionString))
        {
            await dst.OpenAsync();
            Assert.Equal("downstream", await Sync.Engine.Connections.NpgsqlConnectionExtensions.ScalarAsync<string>(dst,
                PrecheckRunner.PublicationsOfHelpersSql(14), CancellationToken.None, TaskNaming.HelperSchema));
        }

        // A publication of the helper schema alone (PostgreSQL 15+) is found too.
        if (await db.DestinationScalarAsync<int>("SELECT current_setting('server_version_num')::int") < 150000) return;
        await db.OnDestinationAsync($"DROP PUBLICATION downstream; CREATE SCHEMA IF NOT EXISTS {TaskNaming.HelperSchema}; CREATE PUBLICATION helpers FOR TABLES IN SCHEMA {TaskNaming.HelperSchema}");
        Assert.Contains("helpers", Find(await service.RunPrechecksAsync("pc-pub", CancellationToken.None), PrecheckIds.DestinationPublications, PrecheckOutcome.Warning).Message);
    }

    [Fact]
    public async Task ASelectionThatMatchesNothingFails()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        var service = new TaskService(_temp.Store);
        Create(service, "pc-empty", db, SyncTaskMode.Full, d => d with { Selection = d.Selection with { IncludeTables = ["nothing_here*"] } });

        var report = await service.RunPrechecksAsync("pc-empty", CancellationToken.None);

        Find(report, PrecheckIds.Selection, PrecheckOutcome.Failed);
    }

    [Fact]
    public async Task EncodingAndLcMonetaryDifferencesFail()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        var latin = db.Name + "_latin1";
        await PostgresFixture.ExecuteAsync(db.DestinationCluster, "postgres", $"CREATE DATABASE {latin} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
        try
        {
            await PostgresFixture.ExecuteAsync(db.DestinationCluster, "postgres", $"ALTER DATABASE {latin} SET lc_monetary = 'C'");
            await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY)");
            var service = new TaskService(_temp.Store);
            service.Create("pc-enc", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, latin), d => d with { Mode = SyncTaskMode.Full });

            var report = await service.RunPrechecksAsync("pc-enc", CancellationToken.None);

            Assert.Contains("LATIN1", Find(report, PrecheckIds.EncodingCompatibility, PrecheckOutcome.Failed).Message);
            var monetary = Find(report, PrecheckIds.LcMonetary, PrecheckOutcome.Failed);
            Assert.True(monetary.Ignorable);
            Find(report, PrecheckIds.VersionCompatibility, PrecheckOutcome.Passed);
            Find(report, PrecheckIds.BlockSize, PrecheckOutcome.Passed);
        }
        finally
        {
            await PostgresFixture.ExecuteAsync(db.DestinationCluster, "postgres", $"DROP DATABASE IF EXISTS {latin} WITH (FORCE)");
        }
    }

    [Fact]
    public async Task AnOldTransactionOnTheSourceFailsAStreamingTask()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY)");
        var service = new TaskService(_temp.Store);
        var task = Create(service, "pc-long", db, SyncTaskMode.FullIncremental);
        await using var blocker = new NpgsqlConnection(db.SourceConnectionString);
        await blocker.OpenAsync();
        await using (var begin = new NpgsqlCommand("BEGIN; SELECT txid_current()", blocker)) await begin.ExecuteNonQueryAsync();
        await Task.Delay(1500);

        var report = await new PrecheckRunner(service.Connections, TimeSpan.FromSeconds(1)).RunAsync(task.Definition, CancellationToken.None);

        var check = Find(report, PrecheckIds.LongTransactions, PrecheckOutcome.Failed);
        Assert.Contains($"pid {blocker.ProcessID}", check.Message);
        Assert.True(check.Ignorable);
        Assert.True(report.PassesIgnoring([PrecheckIds.LongTransactions, PrecheckIds.SlotWalRetention]));
    }

    [Fact]
    public async Task ServerSettingsForStreamingFailOnAServerWithoutLogicalWal()
    {
        using var replicaLevel = PostgresCluster.Start("walreplica", new Dictionary<string, string>
        {
            ["wal_level"] = "replica", ["max_replication_slots"] = "1", ["max_wal_senders"] = "1",
        });
        await PostgresFixture.ExecuteAsync(replicaLevel, "postgres", "CREATE TABLE t (id int PRIMARY KEY)");
        await using var db = await postgres.CreateDatabasesAsync();
        var service = new TaskService(_temp.Store);
        service.Create("pc-wal", TestTasks.Endpoint(replicaLevel, "postgres"), TestTasks.Endpoint(db.DestinationCluster, db.Name));

        var report = await service.RunPrechecksAsync("pc-wal", CancellationToken.None);

        Assert.Contains("wal_level = logical", Find(report, PrecheckIds.WalLevel, PrecheckOutcome.Failed).Remedy);
        Assert.Contains("max_replication_slots", Find(report, PrecheckIds.ReplicationSlots, PrecheckOutcome.Failed).Message);
        Assert.Contains("max_wal_senders", Find(report, PrecheckIds.WalSenders, PrecheckOutcome.Failed).Message);
        var start = await Assert.ThrowsAsync<Diagnostics.SyncException>(() => service.StartAsync("pc-wal", TestTasks.WorkerSpec, [], CancellationToken.None));
        Assert.Equal(Diagnostics.ErrorIds.PrecheckFailed, start.ErrorId);
        Assert.Contains("WalLevel", start.Message);
        Assert.Null(service.Get("pc-wal").State.StartedAt);
    }

    [Fact]
    public async Task ASlotWalLimitTooSmallForTheRetryWindowIsAWarningWithTheSizeThatFits()
    {
        using var small = PostgresCluster.Start("walkeep", new Dictionary<string, string>
        {
            ["wal_level"] = "logical", ["max_replication_slots"] = "4", ["max_wal_senders"] = "4", ["max_slot_wal_keep_size"] = "1MB",
        });
        // Some WAL for the source's average rate to show.
        await PostgresFixture.ExecuteAsync(small, "postgres", "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, repeat('w', 200) FROM generate_series(1, 20000) g");
        await using var db = await postgres.CreateDatabasesAsync();
        var service = new TaskService(_temp.Store);
        service.Create("pc-keep", TestTasks.Endpoint(small, "postgres"), TestTasks.Endpoint(db.DestinationCluster, db.Name), d => d with { Mode = SyncTaskMode.FullIncremental });

        var report = await service.RunPrechecksAsync("pc-keep", CancellationToken.None);

        var check = Find(report, PrecheckIds.SlotWalRetention, PrecheckOutcome.Warning);
        Assert.Contains("max_slot_wal_keep_size is 1MB", check.Message);
        Assert.Contains("720 minutes", check.Message);
        Assert.Matches(@"max_slot_wal_keep_size = '\d+MB'", check.Remedy);
        Assert.True(check.Ignorable);

        // A limit that covers the rate passes, and says which rate it measured.
        await PostgresFixture.SetSystemAsync(small, "max_slot_wal_keep_size", "10TB");
        Assert.Matches("at the source's (average|current) WAL rate",
            Find(await service.RunPrechecksAsync("pc-keep", CancellationToken.None), PrecheckIds.SlotWalRetention, PrecheckOutcome.Passed).Message);

        // 0 keeps nothing for the slot, whatever the rate.
        await PostgresFixture.SetSystemAsync(small, "max_slot_wal_keep_size", "0");
        var zero = Find(await service.RunPrechecksAsync("pc-keep", CancellationToken.None), PrecheckIds.SlotWalRetention, PrecheckOutcome.Warning);
        Assert.Contains("max_slot_wal_keep_size is 0", zero.Message);
    }

    /// <summary>
    /// A destination whose origin states (max_replication_slots of them) are all taken by other origins fails the check
    /// with the setting to raise, before a start whose stream would only retry "could not find free replication state
    /// slot"; one state free, or the task's own origin among them, passes; a role that keeps its checkpoint in a table
    /// needs none.
    /// </summary>
    [Fact]
    public async Task ADestinationWithoutAFreeOriginStateFailsTheOriginCheck()
    {
        using var small = PostgresCluster.Start("origins", new Dictionary<string, string> { ["max_replication_slots"] = "2" });
        await PostgresFixture.ExecuteAsync(small, "postgres", "CREATE DATABASE app");
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY)");
        var service = new TaskService(_temp.Store);
        var task = service.Create("pc-origins", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(small, "app"), d => d with { Mode = SyncTaskMode.FullIncremental });
        static string Taken(string name) => $"SELECT pg_replication_origin_create('{name}'); SELECT pg_replication_origin_advance('{name}', '0/1000')";
        await PostgresFixture.ExecuteAsync(small, "app", Taken("their_subscription") + "; " + Taken("another_task"));

        var failed = Find(await service.RunPrechecksAsync("pc-origins", CancellationToken.None), PrecheckIds.ReplicationOrigins, PrecheckOutcome.Failed);
        Assert.Contains("max_replication_slots = 2", failed.Message);
        Assert.Contains("another_task, their_subscription", failed.Message);
        Assert.Contains("max_replication_slots = 6", failed.Remedy);
        Assert.False(failed.Ignorable);

        await PostgresFixture.ExecuteAsync(small, "app", "SELECT pg_replication_origin_drop('another_task')");
        Assert.StartsWith("1 of max_replication_slots = 2", Find(await service.RunPrechecksAsync("pc-origins", CancellationToken.None), PrecheckIds.ReplicationOrigins, PrecheckOutcome.Passed).Message);

        // The task's own origin holds a state already (a resumed or reset task): nothing more is needed.
        await PostgresFixture.ExecuteAsync(small, "app", Taken(TaskNaming.OriginName(task.Definition)));
        Assert.Contains("already holds its state", Find(await service.RunPrechecksAsync("pc-origins", CancellationToken.None), PrecheckIds.ReplicationOrigins, PrecheckOutcome.Passed).Message);

        // A role that may not use origins keeps the checkpoint in a table: with every state taken, it still passes.
        await PostgresFixture.ExecuteAsync(small, "app", $"SELECT pg_replication_origin_drop('{TaskNaming.OriginName(task.Definition)}'); " + Taken("another_task"));
        var role = await RoleAsync(small, "");
        service.Create("pc-origins-table", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(small, "app", role, "pw"), d => d with { Mode = SyncTaskMode.FullIncremental });
        Assert.Contains("keeps its checkpoint in a table", Find(await service.RunPrechecksAsync("pc-origins-table", CancellationToken.None), PrecheckIds.ReplicationOrigins, PrecheckOutcome.Passed).Message);

        // A role granted the origin functions but not the states (a superuser's by default: the view, and the function
        // behind it, which is checked for the caller) counts the origins, which every role may read: as many as there
        // are states is a warning that says what to grant. The view alone is not enough, and changes nothing.
        var granted = await RoleAsync(small, "");
        await PostgresFixture.ExecuteAsync(small, "app", "GRANT EXECUTE ON FUNCTION pg_replication_origin_oid(text), pg_replication_origin_create(text), " +
            $"pg_replication_origin_session_setup(text), pg_replication_origin_xact_setup(pg_lsn, timestamptz), pg_replication_origin_progress(text, boolean) TO {granted}");
        service.Create("pc-origins-granted", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(small, "app", granted, "pw"), d => d with { Mode = SyncTaskMode.FullIncremental });
        var unsure = Find(await service.RunPrechecksAsync("pc-origins-granted", CancellationToken.None), PrecheckIds.ReplicationOrigins, PrecheckOutcome.Warning);
        Assert.Contains("2 other replication origins", unsure.Message);
        Assert.Contains("GRANT SELECT ON pg_catalog.pg_replication_origin_status TO", unsure.Remedy);
        Assert.Contains("GRANT EXECUTE ON FUNCTION pg_catalog.pg_show_replication_origin_status() TO", unsure.Remedy);
        Assert.Contains(granted, unsure.Remedy);
        await PostgresFixture.ExecuteAsync(small, "app", $"GRANT SELECT ON pg_replication_origin_status TO {granted}");
        Find(await service.RunPrechecksAsync("pc-origins-granted", CancellationToken.None), PrecheckIds.ReplicationOrigins, PrecheckOutcome.Warning);
        await PostgresFixture.ExecuteAsync(small, "app", $"GRANT EXECUTE ON FUNCTION pg_show_replication_origin_status() TO {granted}");
        Assert.Contains("another_task, their_subscription",
            Find(await service.RunPrechecksAsync("pc-origins-granted", CancellationToken.None), PrecheckIds.ReplicationOrigins, PrecheckOutcome.Failed).Message);
        await PostgresFixture.ExecuteAsync(small, "app", "SELECT pg_replication_origin_drop('another_task'); SELECT pg_replication_origin_drop('their_subscription')");
        Assert.StartsWith("2 of max_replication_slots = 2", Find(await service.RunPrechecksAsync("pc-origins-granted", CancellationToken.None), PrecheckIds.ReplicationOrigins, PrecheckOutcome.Passed).Message);
        await PostgresFixture.ExecuteAsync(small, "app", $"REVOKE SELECT ON pg_replication_origin_status FROM {granted}");
        Assert.Contains("one is free", Find(await service.RunPrechecksAsync("pc-origins-granted", CancellationToken.None), PrecheckIds.ReplicationOrigins, PrecheckOutcome.Passed).Message);

        // No origin states at all: nothing could record the checkpoint.
        await PostgresFixture.ExecuteAsync(small, "postgres", "ALTER SYSTEM SET max_replication_slots = 0");
        small.Restart();
        NpgsqlConnection.ClearAllPools();
        var none = Find(await service.RunPrechecksAsync("pc-origins", CancellationToken.None), PrecheckIds.ReplicationOrigins, PrecheckOutcome.Failed);
        Assert.Contains("max_replication_slots = 0", none.Message);
        Assert.Contains("max_replication_slots = 4", none.Remedy);
    }

    private static PrecheckResult Find(PrecheckReport report, string id, PrecheckOutcome outcome)
    {
        var check = report.Checks.SingleOrDefault(c => c.Id == id);
        Assert.True(check is not null, $"no {id} check in: {string.Join(", ", report.Checks.Select(c => c.Id))}");
        Assert.True(check!.Outcome == outcome, $"{id} was {check.Outcome}, expected {outcome}: {check.Message}");
        return check;
    }

    private TaskInfo Create(TaskService service, string name, DatabasePair db, SyncTaskMode mode, Func<TaskDefinition, TaskDefinition>? configure = null) =>
        service.Create(name, TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => (configure ?? (x => x))(d with { Mode = mode }));

    private async Task<string> RoleAsync(PostgresCluster cluster, string attributes)
    {
        var role = "pc_" + Guid.NewGuid().ToString("N")[..10];
        await PostgresFixture.ExecuteAsync(cluster, "postgres", $"CREATE ROLE {role} LOGIN PASSWORD 'pw' {attributes}");
        _roles.Add((cluster, role));
        return role;
    }
}
