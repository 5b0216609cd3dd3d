using Npgsql;
using Sync.Engine.Apply;
using Sync.Engine.Catalog;
using Sync.Engine.Schema;
using Sync.Engine.Diagnostics;
using Sync.Engine.Stream;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Apply;

/// <summary>The applier's own transaction handling against a real destination.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ChangeApplierTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AGroupWhoseCheckpointCannotBeRecordedFailsAsACheckpointErrorAndCommitsNothing(bool withChange)
    {
        await using var db = await postgres.CreateDatabasesAsync($"{nameof(AGroupWhoseCheckpointCannotBeRecordedFailsAsACheckpointErrorAndCommitsNothing)}{withChange}");
        await db.OnDestinationAsync("CREATE TABLE applied (id int PRIMARY KEY)");
        var task = new TaskService(_temp.Store).Create($"applier-{(withChange ? 2 : 1)}", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name)).Definition;
        await using var connection = new NpgsqlConnection(db.DestinationConnectionString);
        await connection.OpenAsync();
        var checkpoint = await Checkpoint.OpenAsync(connection, task, CancellationToken.None);
        try
        {
            Assert.True(checkpoint.UsesOrigin);
            var applier = new ChangeApplier(connection, checkpoint, task.Name, TimeProvider.System);
            // The session loses its origin: recording the checkpoint (the group's only statement) fails on the server.
            await using (var reset = new NpgsqlCommand("SELECT pg_replication_origin_session_reset()", connection)) await reset.ExecuteNonQueryAsync();

            applier.BeginSourceTransaction();
            if (withChange)
                await applier.AddAsync(new ApplyStatement("INSERT INTO applied VALUES ($1::int) RETURNING true", ["1"], null!, StatementMeaning.Insert, null, null), CancellationToken.None);
            applier.EndSourceTransaction(new CommitEvent(new SyncLsn(0x10), new SyncLsn(0x20), DateTimeOffset.UtcNow), counted: withChange);
            var error = await Assert.ThrowsAsync<SyncException>(() => applier.CommitGroupAsync(_ => { }, CancellationToken.None));
            Assert.StartsWith($"Recording the checkpoint of task '{task.Name}' on the destination failed", error.Message);
            Assert.IsType<PostgresException>(error.InnerException);
            Assert.Equal(error.Retriable ? error.ErrorId : ErrorIds.CheckpointCorrupt, error.ErrorId);
            Assert.False(error.Retriable);

            await applier.RollbackAsync();
            Assert.False(applier.GroupOpen);
            Assert.Equal(default, applier.Committed);
            // The change went back with the group; the session is usable again and outside any transaction.
            await using (var count = new NpgsqlCommand("SELECT count(*) FROM applied", connection)) Assert.Equal(0L, await count.ExecuteScalarAsync());
            // Outside a transaction block, a savepoint is refused.
            await using var savepoint = new NpgsqlCommand("SAVEPOINT probe", connection);
            Assert.Equal("25P01", (await Assert.ThrowsAsync<PostgresException>(() => savepoint.ExecuteNonQueryAsync())).SqlState);
        }
        finally
        {
            await DropOriginAsync(connection, db, task);
        }
    }

    /// <summary>
    /// Updates of rows the destination lacks become inserts, row by row and set-wise: the GENERATED ALWAYS identity keeps
    /// the source's value, a row updated twice ends in its last image, and an insert kept out by another unique key under
    /// Ignore says so in the update's one event. Key changes on such a table leave the identity alone (setting it was refused by the server).
    /// The same with the values in binary form (a binary stream), whose keys read as text in the events.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task UpdatesOfMissingRowsBecomeInsertsAndKeyChangesLeaveAGeneratedIdentityAlone(bool setMode, bool binary)
    {
        await using var db = await postgres.CreateDatabasesAsync($"{nameof(UpdatesOfMissingRowsBecomeInsertsAndKeyChangesLeaveAGeneratedIdentityAlone)}{setMode}{binary}");
        const string Table = "CREATE TABLE items (id int PRIMARY KEY, n int GENERATED ALWAYS AS IDENTITY, v text UNIQUE)";
        await db.OnSourceAsync(Table);
        await db.OnDestinationAsync(Table + "; INSERT INTO items (id, n, v) OVERRIDING SYSTEM VALUE VALUES (1, 10, 'one'), (7, 70, 'seven'), (9, 90, 'taken')");
        var task = new TaskService(_temp.Store).Create($"applier-upd-{(setMode ? 2 : 1)}{(binary ? "b" : "")}", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Options = d.Options with { ConflictPolicy = ConflictPolicy.Ignore } }).Definition;
        var relation = new RelationEvent(7, "public", "items", ["id", "n", "v"], [true, false, false], FullIdentity: false) { TypeOids = [23, 23, 25] };
        var table = (await ApplyTablesAsync(db, task, relation))[0];
        Assert.Equal([23u, 23u, 25u], table.BinaryTypes);
        ColumnValue Value(string? text, int column) => text is null || !binary ? text
            : ColumnValue.FromBinary(column == 2 ? System.Text.Encoding.UTF8.GetBytes(text) : Int4(int.Parse(text, System.Globalization.CultureInfo.InvariantCulture)));
        RowEvent Update(string id, string n, string v, string? oldId = null) =>
            new(RowChangeKind.Update, 7, oldId is null ? null : [Value(oldId, 0), ColumnValue.Null, ColumnValue.Null], false, [Value(id, 0), Value(n, 1), Value(v, 2)], [false, false, false]);

        await using var session = await BinaryApplySessionAsync(db);
        var connection = session.Connection;
        var checkpoint = await Checkpoint.OpenAsync(connection, task, CancellationToken.None);
        try
        {
            var applier = new ChangeApplier(connection, checkpoint, task.Name, TimeProvider.System) { SetMode = setMode };
            var conflicts = new List<TaskEvent>();
            async Task GroupAsync(ulong end, params RowEvent[] changes)
            {
                applier.BeginSourceTransaction();
                foreach (var change in changes) await applier.AddAsync(StatementBuilder.For(table, change, ConflictPolicy.Ignore)!, CancellationToken.None);
                applier.EndSourceTransaction(new CommitEvent(new SyncLsn(end - 8), new SyncLsn(end), DateTimeOffset.UtcNow));
                await applier.CommitGroupAsync(conflicts.AddRange, CancellationToken.None);
            }

            await GroupAsync(0x100, Update("1", "10", "one, updated"), Update("2", "20", "two"), Update("3", "30", "three"), Update("3", "30", "three, again"),
                Update("4", "40", "taken"));
            Assert.Equal(new SyncLsn(0x100), applier.Committed);
            Assert.Equal(new SyncLsn(0x100), await checkpoint.ReadAsync(connection, CancellationToken.None));
            Assert.Equal("1:10:one, updated 2:20:two 3:30:three, again 7:70:seven 9:90:taken",
                await db.DestinationScalarAsync<string>("SELECT string_agg(id || ':' || n || ':' || v, ' ' ORDER BY id) FROM items"));
            Assert.Equal(["(id=2) UpdateMissing", "(id=3) UpdateMissing", "(id=4) UpdateMissing"],
                conflicts.Select(c => $"{c.Data!["key"]} {c.Data["kind"]}").Distinct().Order());
            // One event per missing row, saying what its insert did.
            Assert.Equal("inserted the source row", conflicts.Single(c => c.Data!["key"] == "(id=2)").Data!["resolution"]);
            Assert.Equal("the source row was not inserted: it conflicts with a row on the destination (policy Ignore)",
                conflicts.Single(c => c.Data!["key"] == "(id=4)").Data!["resolution"]);
            Assert.Equal("inserted the source row", conflicts.Last(c => c.Data!["key"] == "(id=3)").Data!["resolution"]);

            conflicts.Clear();
            await GroupAsync(0x200, Update("6", "50", "six", oldId: "5"), Update("8", "70", "eight", oldId: "7"));
            Assert.Equal(new SyncLsn(0x200), await checkpoint.ReadAsync(connection, CancellationToken.None));
            Assert.Equal("6:50:six 8:70:eight", await db.DestinationScalarAsync<string>("SELECT string_agg(id || ':' || n || ':' || v, ' ' ORDER BY id) FROM items WHERE id IN (6, 7, 8)"));
            Assert.Equal("(id=5) inserted the source row", Assert.Single(conflicts).Data!["key"] + " " + conflicts[0].Data!["resolution"]);
        }
        finally
        {
            await DropOriginAsync(connection, db, task);
        }
    }

    /// <summary>
    /// A GENERATED ALWAYS identity can change only on the source's side (SET ... = DEFAULT), and an UPDATE cannot set it:
    /// where the change shows (a key that is such an identity, or any column under REPLICA IDENTITY FULL, whose old row
    /// travels) the task fails with the server's refusal instead of keeping the old value unnoticed; an update that
    /// leaves it alone applies, FULL identity included.
    /// </summary>
    [Fact]
    public async Task AChangedGeneratedIdentityFailsLoudlyAndAnUnchangedOneIsLeftAlone()
    {
        await using var db = await postgres.CreateDatabasesAsync(nameof(AChangedGeneratedIdentityFailsLoudlyAndAnUnchangedOneIsLeftAlone));
        const string Tables = "CREATE TABLE keyed (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text); CREATE TABLE whole (n int GENERATED ALWAYS AS IDENTITY, v text); ALTER TABLE whole REPLICA IDENTITY FULL";
        await db.OnSourceAsync(Tables);
        await db.OnDestinationAsync(Tables + "; INSERT INTO keyed (id, v) OVERRIDING SYSTEM VALUE VALUES (1, 'one'); INSERT INTO whole (n, v) OVERRIDING SYSTEM VALUE VALUES (3, 'three')");
        var task = new TaskService(_temp.Store).Create("applier-identity", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name)).Definition;
        var tables = await ApplyTablesAsync(db, task,
            new RelationEvent(1, "public", "keyed", ["id", "v"], [true, false], FullIdentity: false),
            new RelationEvent(2, "public", "whole", ["n", "v"], [true, true], FullIdentity: true));
        var (keyed, whole) = (tables[0], tables[1]);
        await using var connection = new NpgsqlConnection(db.DestinationConnectionString);
        await connection.OpenAsync();
        var checkpoint = await Checkpoint.OpenAsync(connection, task, CancellationToken.None);
        try
        {
            var applier = new ChangeApplier(connection, checkpoint, task.Name, TimeProvider.System);
            async Task ApplyAsync(ApplyTable table, RowEvent change, ulong end)
            {
                applier.BeginSourceTransaction();
                await applier.AddAsync(StatementBuilder.For(table, change, ConflictPolicy.Fail)!, CancellationToken.None);
                applier.EndSourceTransaction(new CommitEvent(new SyncLsn(end - 8), new SyncLsn(end), DateTimeOffset.UtcNow));
                await applier.CommitGroupAsync(_ => { }, CancellationToken.None);
            }

            await ApplyAsync(whole, new RowEvent(RowChangeKind.Update, 2, ["3", "three"], true, ["3", "three, updated"], [false, false]), 0x100);
            Assert.Equal("3:three, updated", await db.DestinationScalarAsync<string>("SELECT n || ':' || v FROM whole"));

            foreach (var (table, change) in new[]
            {
                (keyed, new RowEvent(RowChangeKind.Update, 1, ["1", null], false, ["5", "one"], [false, false])),
                (whole, new RowEvent(RowChangeKind.Update, 2, ["3", "three, updated"], true, ["4", "three, updated"], [false, false])),
            })
            {
                var error = await Assert.ThrowsAsync<SyncException>(() => ApplyAsync(table, change, 0x200));
                Assert.Equal("428C9", error.SqlState);
                Assert.Contains("can only be updated to DEFAULT", error.Message);
                await applier.RollbackAsync();
            }
            Assert.Equal("1:one", await db.DestinationScalarAsync<string>("SELECT id || ':' || v FROM keyed"));
            Assert.Equal("3:three, updated", await db.DestinationScalarAsync<string>("SELECT n || ':' || v FROM whole"));
            Assert.Equal(new SyncLsn(0x100), await checkpoint.ReadAsync(connection, CancellationToken.None));
        }
        finally
        {
            await DropOriginAsync(connection, db, task);
        }
    }

    /// <summary>
    /// A pipelined applier leaves full batches in flight while it builds the next: every change lands once and in order
    /// (inserts, then updates of the same rows in later batches, and updates of missing rows, whose inserts follow their
    /// own batch), and the conflicts and checkpoint are those of the whole group.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task APipelinedApplierAppliesBatchesInOrderWhileTheNextIsBuilt(bool setMode)
    {
        await using var db = await postgres.CreateDatabasesAsync($"{nameof(APipelinedApplierAppliesBatchesInOrderWhileTheNextIsBuilt)}{setMode}");
        var (task, table) = await ItemsAsync(db, $"applier-pipe-{(setMode ? 2 : 1)}", ConflictPolicy.Ignore);
        await db.OnDestinationAsync("INSERT INTO items (id, n, v) OVERRIDING SYSTEM VALUE SELECT i, i, 'before ' || i FROM generate_series(100001, 100010) i");
        await using var connection = await ApplySessionAsync(db);
        var checkpoint = await Checkpoint.OpenAsync(connection, task, CancellationToken.None);
        try
        {
            var applier = new ChangeApplier(connection, checkpoint, task.Name, TimeProvider.System) { SetMode = setMode, Pipelined = true };
            var conflicts = new List<TaskEvent>();
            applier.BeginSourceTransaction();
            // Four batches: inserts; the rest of them and updates of rows the destination lacks (their inserts follow while
            // the third is built); an update of every inserted row; the last of those and one more.
            const int Rows = 1500;
            for (var i = 1; i <= Rows; i++)
                await applier.AddAsync(StatementBuilder.For(table, Row(RowChangeKind.Insert, i, $"inserted {i}"), ConflictPolicy.Ignore)!, CancellationToken.None);
            for (var i = 200001; i <= 200500; i++)
                await applier.AddAsync(StatementBuilder.For(table, Row(RowChangeKind.Update, i, $"was missing {i}"), ConflictPolicy.Ignore)!, CancellationToken.None);
            for (var i = 1; i <= Rows; i++)
                await applier.AddAsync(StatementBuilder.For(table, Row(RowChangeKind.Update, i, $"updated {i}"), ConflictPolicy.Ignore)!, CancellationToken.None);
            await applier.AddAsync(StatementBuilder.For(table, Row(RowChangeKind.Update, 100001, "updated before"), ConflictPolicy.Ignore)!, CancellationToken.None);
            applier.EndSourceTransaction(new CommitEvent(new SyncLsn(0x300), new SyncLsn(0x308), DateTimeOffset.UtcNow));
            await applier.CommitGroupAsync(conflicts.AddRange, CancellationToken.None);

            Assert.Equal(new SyncLsn(0x308), await checkpoint.ReadAsync(connection, CancellationToken.None));
            Assert.Equal(Rows + 500L + 10, await db.DestinationScalarAsync<long>("SELECT count(*) FROM items"));
            Assert.Equal(Rows, await db.DestinationScalarAsync<long>($"SELECT count(*) FROM items WHERE id <= {Rows} AND v = 'updated ' || id AND n = id"));
            Assert.Equal(500L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM items WHERE id > 200000 AND v = 'was missing ' || id AND n = id"));
            Assert.Equal("updated before", await db.DestinationScalarAsync<string>("SELECT v FROM items WHERE id = 100001"));
            Assert.Equal(500, conflicts.Count(c => c.Data!["kind"] == "UpdateMissing" && c.Data["resolution"] == "inserted the source row"));
            Assert.Equal(500, conflicts.Count);
            Assert.Equal(Rows * 2 + 501L, applier.AppliedRows);
        }
        finally
        {
            await DropOriginAsync(connection, db, task);
        }
    }

    /// <summary>
    /// A batch that fails while in flight fails the call that waits for it (here the next full batch's), as the conflict it
    /// is, and takes the whole group back: nothing of it is committed and the session is usable.
    /// </summary>
    [Fact]
    public async Task AFailureInABatchInFlightIsReportedByTheNextCallAndTakesTheGroupBack()
    {
        await using var db = await postgres.CreateDatabasesAsync(nameof(AFailureInABatchInFlightIsReportedByTheNextCallAndTakesTheGroupBack));
        var (task, table) = await ItemsAsync(db, "applier-pipe-fail", ConflictPolicy.Fail);
        await db.OnDestinationAsync("INSERT INTO items (id, n, v) OVERRIDING SYSTEM VALUE VALUES (500, 500, 'in the way')");
        await using var connection = await ApplySessionAsync(db);
        var checkpoint = await Checkpoint.OpenAsync(connection, task, CancellationToken.None);
        try
        {
            var applier = new ChangeApplier(connection, checkpoint, task.Name, TimeProvider.System) { Pipelined = true };
            applier.BeginSourceTransaction();
            var error = await Assert.ThrowsAsync<SyncException>(async () =>
            {
                for (var i = 1; i <= 3 * ChangeApplier.MaxBatch; i++)
                    await applier.AddAsync(StatementBuilder.For(table, Row(RowChangeKind.Insert, i, $"inserted {i}"), ConflictPolicy.Fail)!, CancellationToken.None);
            });
            Assert.Equal(ErrorIds.ApplyConflict, error.ErrorId);
            Assert.Contains("id=500", error.Message);
            Assert.Contains("in the way", error.Message);
            Assert.False(applier.GroupOpen);

            await applier.RollbackAsync();
            Assert.Null(await checkpoint.ReadAsync(connection, CancellationToken.None));
            Assert.Equal("500", await db.DestinationScalarAsync<string>("SELECT string_agg(id::text, ',') FROM items"));
        }
        finally
        {
            await DropOriginAsync(connection, db, task);
        }
    }

    /// <summary>
    /// Two rows whose composite keys hold the same characters split differently (('x' + US + 'y', 'z') and
    /// ('x', 'y' + US + 'z'), US being the unit separator) are two rows to the applier. The first is missing on the
    /// destination, so its update becomes an insert; the second's update follows in the same batch. When the batch's row
    /// identities were the values joined by that separator, the two met: set-wise, the first update was dropped as
    /// superseded by the second; row by row, its insert was left to the second. Either way the first row was lost.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RowsWhoseKeysShareTheirCharactersStayApartInABatch(bool setMode)
    {
        await using var db = await postgres.CreateDatabasesAsync($"{nameof(RowsWhoseKeysShareTheirCharactersStayApartInABatch)}{setMode}");
        const string Table = "CREATE TABLE pairs (a text, b text, v text, PRIMARY KEY (a, b))";
        await db.OnSourceAsync(Table);
        await db.OnDestinationAsync(Table);
        await db.OnDestinationAsync("INSERT INTO pairs VALUES ('x', 'y' || chr(31) || 'z', 'before')");
        var task = new TaskService(_temp.Store).Create($"applier-keys-{(setMode ? 2 : 1)}", TestTasks.Endpoint(db.SourceCluster, db.Name),
            TestTasks.Endpoint(db.DestinationCluster, db.Name)).Definition;
        var table = (await ApplyTablesAsync(db, task, new RelationEvent(9, "public", "pairs", ["a", "b", "v"], [true, true, false], FullIdentity: false)))[0];
        await using var connection = await ApplySessionAsync(db);
        var checkpoint = await Checkpoint.OpenAsync(connection, task, CancellationToken.None);
        try
        {
            var applier = new ChangeApplier(connection, checkpoint, task.Name, TimeProvider.System) { SetMode = setMode };
            var conflicts = new List<TaskEvent>();
            applier.BeginSourceTransaction();
            foreach (var (a, b, v) in new[] { ("x\u001fy", "z", "first"), ("x", "y\u001fz", "second") })
                await applier.AddAsync(StatementBuilder.For(table, new RowEvent(RowChangeKind.Update, 9, null, false, [a, b, v], [false, false, false]), ConflictPolicy.Overwrite)!,
                    CancellationToken.None);
            applier.EndSourceTransaction(new CommitEvent(new SyncLsn(0x400), new SyncLsn(0x408), DateTimeOffset.UtcNow));
            await applier.CommitGroupAsync(conflicts.AddRange, CancellationToken.None);

            Assert.Equal("x|y,z=first;x,y|z=second",
                await db.DestinationScalarAsync<string>("SELECT string_agg(replace(a, chr(31), '|') || ',' || replace(b, chr(31), '|') || '=' || v, ';' ORDER BY v) FROM pairs"));
            var conflict = Assert.Single(conflicts);
            Assert.Equal("UpdateMissing", conflict.Data!["kind"]);
            Assert.Equal("inserted the source row", conflict.Data["resolution"]);
        }
        finally
        {
            await DropOriginAsync(connection, db, task);
        }
    }

    private static RowEvent Row(RowChangeKind kind, int id, string v) => new(kind, 7, null, false, [$"{id}", $"{id}", v], [false, false, false]);

    /// <summary>The table items (id, a GENERATED ALWAYS identity n, a unique v) on both sides, and how the stream would apply it.</summary>
    private async Task<(TaskDefinition Task, ApplyTable Table)> ItemsAsync(DatabasePair db, string name, ConflictPolicy policy)
    {
        const string Table = "CREATE TABLE items (id int PRIMARY KEY, n int GENERATED ALWAYS AS IDENTITY, v text UNIQUE)";
        await db.OnSourceAsync(Table);
        await db.OnDestinationAsync(Table);
        var task = new TaskService(_temp.Store).Create(name, TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Options = d.Options with { ConflictPolicy = policy } }).Definition;
        var relation = new RelationEvent(7, "public", "items", ["id", "n", "v"], [true, false, false], FullIdentity: false);
        return (task, (await ApplyTablesAsync(db, task, relation))[0]);
    }

    /// <summary>How the stream would apply these relations of the source, as the task's scope resolves them.</summary>
    private static async Task<ApplyTable[]> ApplyTablesAsync(DatabasePair db, TaskDefinition task, params RelationEvent[] relations)
    {
        await using var catalog = new NpgsqlConnection(db.SourceConnectionString);
        await catalog.OpenAsync();
        var scope = ScopeResolver.Resolve(task, await CatalogReader.ReadAsync(catalog, includeFunctions: false, CancellationToken.None));
        return relations.Select(r => new ApplyTable(r, scope.Find(new QualifiedName(r.Schema, r.Name))!, scope, SyncLsn.Invalid, DestinationTypes.None)).ToArray();
    }

    /// <summary>
    /// A destination session like the stream's apply session: from a data source that can send binary stream values,
    /// unpooled (closing it ends the session that holds the task's origin), with triggers and foreign keys off.
    /// </summary>
    private static async Task<ApplySession> BinaryApplySessionAsync(DatabasePair db)
    {
        var dataSource = BinaryParameters.DataSource(new NpgsqlConnectionStringBuilder(db.DestinationConnectionString) { Pooling = false }.ConnectionString);
        var connection = dataSource.CreateConnection();
        await connection.OpenAsync();
        await using var role = new NpgsqlCommand("SET session_replication_role = replica", connection);
        await role.ExecuteNonQueryAsync();
        return new ApplySession(dataSource, connection);
    }

    private sealed record ApplySession(NpgsqlDataSource Source, NpgsqlConnection Connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Connection.DisposeAsync();
            await Source.DisposeAsync();
        }
    }

    /// <summary>A destination session set up as the stream's: replica role, so set-wise apply is allowed.</summary>
    private static async Task<NpgsqlConnection> ApplySessionAsync(DatabasePair db)
    {
        var connection = new NpgsqlConnection(db.DestinationConnectionString);
        await connection.OpenAsync();
        await using var role = new NpgsqlCommand("SET session_replication_role = replica", connection);
        await role.ExecuteNonQueryAsync();
        return connection;
    }

    /// <summary>A COMMIT that fails is reported as the commit's failure, and nothing of the group took effect.</summary>
    [Fact]
    public async Task AFailedCommitIsReportedAsTheCommitsAndLeavesTheCheckpointWhereItWas()
    {
        await using var db = await postgres.CreateDatabasesAsync(nameof(AFailedCommitIsReportedAsTheCommitsAndLeavesTheCheckpointWhereItWas));
        // A deferred constraint trigger that fires even for replicas and refuses every row when the transaction commits.
        await db.OnDestinationAsync("""
            CREATE TABLE applied (id int PRIMARY KEY);
            CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'P0001'; END $$;
            CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON applied DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse();
            ALTER TABLE applied ENABLE ALWAYS TRIGGER refuse_at_commit;
            """);
        var task = new TaskService(_temp.Store).Create("applier-commit", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name)).Definition;
        await using var connection = new NpgsqlConnection(db.DestinationConnectionString);
        await connection.OpenAsync();
        var checkpoint = await Checkpoint.OpenAsync(connection, task, CancellationToken.None);
        try
        {
            var applier = new ChangeApplier(connection, checkpoint, task.Name, TimeProvider.System);
            applier.BeginSourceTransaction();
            await applier.AddAsync(new ApplyStatement("INSERT INTO applied VALUES ($1::int) RETURNING true", ["1"], null!, StatementMeaning.Insert, null, null), CancellationToken.None);
            applier.EndSourceTransaction(new CommitEvent(new SyncLsn(0x10), new SyncLsn(0x20), DateTimeOffset.UtcNow));
            var error = await Assert.ThrowsAsync<SyncException>(() => applier.CommitGroupAsync(_ => { }, CancellationToken.None));
            Assert.StartsWith($"Committing a group of changes of task '{task.Name}' on the destination failed, so none of them took effect", error.Message);
            Assert.Contains("refused at commit", error.Message);
            Assert.Equal("P0001", Assert.IsType<PostgresException>(error.InnerException).SqlState);

            await applier.RollbackAsync();
            Assert.Equal(default, applier.Committed);
            Assert.Null(await checkpoint.ReadAsync(connection, CancellationToken.None));
            await using var count = new NpgsqlCommand("SELECT count(*) FROM applied", connection);
            Assert.Equal(0L, await count.ExecuteScalarAsync());
        }
        finally
        {
            await DropOriginAsync(connection, db, task);
        }
    }

    private static byte[] Int4(int value)
    {
        var bytes = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }

    /// <summary>
    /// A binary value the destination does not read as the source wrote it (five bytes for an integer; or three, which
    /// the server reports as a protocol violation, a code that otherwise means a lost connection) fails the attempt as
    /// one that restarts the stream in text format, row by row and set-wise, and takes the group back; a binary value of
    /// a column that cannot be sent in binary is refused before it is sent.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task ABinaryValueTheDestinationRefusesRestartsTheStreamInText(bool setMode, bool tooShort)
    {
        await using var db = await postgres.CreateDatabasesAsync($"{nameof(ABinaryValueTheDestinationRefusesRestartsTheStreamInText)}{setMode}{tooShort}");
        const string Table = "CREATE TABLE items (id int PRIMARY KEY, n int, v text); CREATE TYPE mood AS ENUM ('ok'); CREATE TABLE moods (id int PRIMARY KEY, m mood, ms mood[])";
        await db.OnSourceAsync(Table);
        await db.OnDestinationAsync(Table);
        var task = new TaskService(_temp.Store).Create($"applier-refused-{(setMode ? 2 : 1)}{(tooShort ? "s" : "")}", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name)).Definition;
        var tables = await ApplyTablesAsync(db, task,
            new RelationEvent(7, "public", "items", ["id", "n", "v"], [true, false, false], FullIdentity: false) { TypeOids = [23, 23, 25] },
            new RelationEvent(8, "public", "moods", ["id", "m", "ms"], [true, false, false], FullIdentity: false));
        Assert.Equal([23u, 0u, 0u], tables[1].BinaryTypes);
        // An enum the stream did not look up when it started: a restart that looks it up, not one into text.
        var unknownEnum = Assert.Throws<SyncException>(() => StatementBuilder.For(tables[1],
            new RowEvent(RowChangeKind.Insert, 8, null, false, [ColumnValue.FromBinary(Int4(1)), ColumnValue.FromBinary("ok"u8.ToArray()), ColumnValue.Null], [false, false, false]), ConflictPolicy.Fail));
        Assert.True(unknownEnum.Retriable);
        Assert.StartsWith("The stream restarts to look up the destination's enum for column m of public.moods (type public.mood)", unknownEnum.Message);
        Assert.False(unknownEnum.Data.Contains(StreamFormat.TextRestartKey));
        // An array of it in binary form cannot be sent at all: the stream restarts in text.
        var arrayInBinary = Assert.Throws<SyncException>(() => StatementBuilder.For(tables[1],
            new RowEvent(RowChangeKind.Insert, 8, null, false, [ColumnValue.FromBinary(Int4(1)), ColumnValue.Null, ColumnValue.FromBinary([0, 0, 0, 0])], [false, false, false]), ConflictPolicy.Fail));
        Assert.True(arrayInBinary.Retriable);
        Assert.StartsWith("The stream restarts in text format: column ms of public.moods (type public.mood[]) came in binary form", arrayInBinary.Message);
        Assert.NotNull(arrayInBinary.Data[StreamFormat.TextRestartKey]);

        await using var session = await BinaryApplySessionAsync(db);
        var connection = session.Connection;
        var checkpoint = await Checkpoint.OpenAsync(connection, task, CancellationToken.None);
        try
        {
            var applier = new ChangeApplier(connection, checkpoint, task.Name, TimeProvider.System) { SetMode = setMode };
            RowEvent Insert(int id, byte[] n) => new(RowChangeKind.Insert, 7, null, false, [ColumnValue.FromBinary(Int4(id)), ColumnValue.FromBinary(n), ColumnValue.FromBinary("v"u8.ToArray())], [false, false, false]);
            applier.BeginSourceTransaction();
            foreach (var change in new[] { Insert(1, Int4(10)), Insert(2, tooShort ? [0, 0, 20] : [0, 0, 0, 0, 20]), Insert(3, Int4(30)) })
                await applier.AddAsync(StatementBuilder.For(tables[0], change, ConflictPolicy.Fail)!, CancellationToken.None);
            applier.EndSourceTransaction(new CommitEvent(new SyncLsn(0x10), new SyncLsn(0x20), DateTimeOffset.UtcNow));
            var refused = await Assert.ThrowsAsync<SyncException>(() => applier.CommitGroupAsync(_ => { }, CancellationToken.None));
            Assert.True(refused.Retriable);
            Assert.StartsWith("The stream restarts in text format: the destination refused a binary value for public.items (", refused.Message);
            Assert.Equal(tooShort ? "08P01" : "22P03", refused.SqlState);
            Assert.IsType<string>(refused.Data[StreamFormat.TextRestartKey]);
            await applier.RollbackAsync();
            Assert.Equal(0L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM items"));
            // After a protocol violation the driver drops the session (the retry opens a new one); the group went with it.
            Assert.Equal(tooShort, connection.State != System.Data.ConnectionState.Open);
            if (tooShort) await connection.OpenAsync();
            Assert.Equal(default, await checkpoint.ReadAsync(connection, CancellationToken.None));
        }
        finally
        {
            await DropOriginAsync(connection, db, task);
        }
    }

    /// <summary>
    /// The apply session's commits wait for the disk by default, whatever weaker default the destination has, and keep a
    /// DBA's remote_apply (replicas that must show what was applied) instead of weakening it to "on".
    /// </summary>
    [Theory]
    [InlineData("off", "on")]
    [InlineData("local", "on")]
    [InlineData("remote_write", "on")]
    [InlineData("remote_apply", "remote_apply")]
    public async Task TheApplySessionWaitsForTheDiskAndKeepsADbasRemoteApply(string configured, string expected)
    {
        await using var db = await postgres.CreateDatabasesAsync($"apply_sync_commit_{configured}");
        await db.OnDestinationAsync($"ALTER DATABASE \"{db.Name}\" SET synchronous_commit = {configured}");
        await using var connection = new NpgsqlConnection(db.DestinationConnectionString);
        await connection.OpenAsync();
        await Sync.Engine.Runtime.RealtimeSync.PrepareApplySessionAsync(connection, CancellationToken.None);
        await using var show = new NpgsqlCommand("SHOW synchronous_commit", connection);
        Assert.Equal(expected, (string)(await show.ExecuteScalarAsync())!);
    }

    /// <summary>
    /// The stream's session commits without waiting for the disk only where the source can still be told exactly what is
    /// on disk: an origin the role may ask, and no synchronous standbys (the origin's answer covers the local disk
    /// only); standbys configured while it runs are seen at the next question, which restarts the stream without
    /// moving what is known to be on disk. A role granted the origin functions one by one but not the question keeps
    /// its origin and commits waiting.
    /// </summary>
    [Fact]
    public async Task CommitsSkipTheDiskWaitOnlyWhereTheOriginCanSayWhatIsOnDiskAndNoStandbyWaits()
    {
        await using var db = await postgres.CreateDatabasesAsync(nameof(CommitsSkipTheDiskWaitOnlyWhereTheOriginCanSayWhatIsOnDiskAndNoStandbyWaits));
        var task = new TaskService(_temp.Store).Create("applier-durable", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name)).Definition;
        async Task<string> SettingAsync(NpgsqlConnection c)
        {
            await using var show = new NpgsqlCommand("SHOW synchronous_commit", c);
            return (string)(await show.ExecuteScalarAsync())!;
        }

        var interval = ChangeApplier.DurableInterval;
        await using (var connection = new NpgsqlConnection(db.DestinationConnectionString))
        {
            await connection.OpenAsync();
            await Sync.Engine.Runtime.RealtimeSync.PrepareApplySessionAsync(connection, CancellationToken.None);
            var checkpoint = await Checkpoint.OpenAsync(connection, task, CancellationToken.None);
            async Task WithoutStandbysAsync()
            {
                await PostgresFixture.ExecuteAsync(db.DestinationCluster, "postgres", "ALTER SYSTEM RESET synchronous_standby_names; SELECT pg_reload_conf()");
                await TestTasks.WaitUntilAsync(() => db.DestinationScalarAsync<string>("SELECT current_setting('synchronous_standby_names')").GetAwaiter().GetResult() == "",
                    TimeSpan.FromSeconds(10), "the standby setting to be reset");
            }
            try
            {
                Assert.True(checkpoint.CanTellDurable);
                try
                {
                    await PostgresFixture.SetSystemAsync(db.DestinationCluster, "synchronous_standby_names", "standby_a");
                    Assert.False(await Sync.Engine.Runtime.RealtimeSync.CommitWithoutWaitingAsync(connection, checkpoint, CancellationToken.None));
                    Assert.Equal("on", await SettingAsync(connection));
                }
                finally
                {
                    await WithoutStandbysAsync();
                }
                Assert.True(await Sync.Engine.Runtime.RealtimeSync.CommitWithoutWaitingAsync(connection, checkpoint, CancellationToken.None));
                Assert.Equal("off", await SettingAsync(connection));

                // Standbys configured while the stream runs: the next question sees them and the stream starts again,
                // without telling the source what only the local disk has.
                await db.OnDestinationAsync("CREATE TABLE marks (id int PRIMARY KEY)");
                // Only the first commit asks (the first question is due at once), however slow the machine.
                ChangeApplier.DurableInterval = TimeSpan.FromHours(1);
                // On a clock that starts at zero, as a monotonic clock does on a machine just booted: the first question
                // once waited a whole interval from 0 (an hour here), and the test failed on fresh CI machines.
                var applier = new ChangeApplier(connection, checkpoint, task.Name, new JustBootedClock()) { AsyncCommit = true };
                applier.BeginSourceTransaction();
                await applier.AddAsync(new ApplyStatement("INSERT INTO public.marks VALUES ($1::int) RETURNING 1", ["1"], null!, StatementMeaning.Insert, null, null), CancellationToken.None);
                applier.EndSourceTransaction(new CommitEvent(new SyncLsn(0x10), new SyncLsn(0x20), DateTimeOffset.UtcNow));
                await applier.CommitGroupAsync(_ => { }, CancellationToken.None);
                Assert.Equal(new SyncLsn(0x20), applier.Durable);
                applier.BeginSourceTransaction();
                await applier.AddAsync(new ApplyStatement("INSERT INTO public.marks VALUES ($1::int) RETURNING 1", ["2"], null!, StatementMeaning.Insert, null, null), CancellationToken.None);
                applier.EndSourceTransaction(new CommitEvent(new SyncLsn(0x30), new SyncLsn(0x40), DateTimeOffset.UtcNow));
                // Within the interval of the first question: committed, not yet known to be on disk.
                await applier.CommitGroupAsync(_ => { }, CancellationToken.None);
                Assert.Equal(new SyncLsn(0x40), applier.Committed);
                Assert.Equal(new SyncLsn(0x20), applier.Durable);
                try
                {
                    await PostgresFixture.SetSystemAsync(db.DestinationCluster, "synchronous_standby_names", "standby_a");
                    var restart = await Assert.ThrowsAsync<SyncException>(() => applier.MakeDurableAsync(now: true, CancellationToken.None));
                    Assert.True(restart.Retriable);
                    Assert.StartsWith($"The destination of task '{task.Name}' now has synchronous standbys (synchronous_standby_names = 'standby_a')", restart.Message);
                    Assert.Equal(new SyncLsn(0x20), applier.Durable);
                }
                finally
                {
                    await WithoutStandbysAsync();
                }
                await applier.MakeDurableAsync(now: true, CancellationToken.None);
                Assert.Equal(new SyncLsn(0x40), applier.Durable);
            }
            finally
            {
                ChangeApplier.DurableInterval = interval;
                await DropOriginAsync(connection, db, task);
            }
        }

        // A role that may set up and record an origin, and read its progress by name, but not ask its session.
        const string Role = "origin_partial";
        var password = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
        await PostgresFixture.ExecuteAsync(db.DestinationCluster, db.Name, $"""
            DROP ROLE IF EXISTS {Role}; CREATE ROLE {Role} LOGIN PASSWORD '{password}';
            GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), pg_replication_origin_oid(text), pg_replication_origin_session_setup(text),
                pg_replication_origin_xact_setup(pg_lsn, timestamptz), pg_replication_origin_progress(text, boolean) TO {Role};
            """);
        try
        {
            await using var limited = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(db.DestinationConnectionString) { Username = Role, Password = password }.ConnectionString);
            await limited.OpenAsync();
            await Sync.Engine.Runtime.RealtimeSync.PrepareApplySessionAsync(limited, CancellationToken.None);
            var checkpoint = await Checkpoint.OpenAsync(limited, task, CancellationToken.None);
            try
            {
                Assert.True(checkpoint.UsesOrigin);
                Assert.False(checkpoint.CanTellDurable);
                Assert.Null(checkpoint.DurableCommand());
                Assert.False(await Sync.Engine.Runtime.RealtimeSync.CommitWithoutWaitingAsync(limited, checkpoint, CancellationToken.None));
                Assert.Equal("on", await SettingAsync(limited));
            }
            finally
            {
                await DropOriginAsync(limited, db, task);
            }
        }
        finally
        {
            await PostgresFixture.ExecuteAsync(db.DestinationCluster, db.Name, $"DROP OWNED BY {Role}; DROP ROLE {Role}");
        }
    }

    /// <summary>
    /// A role that may set up an origin session but not record a position in it, or not read one back, keeps its
    /// checkpoint in the task's table from the start (no origin is made), and its groups commit with it; before, it got
    /// the origin and failed at its first group or read.
    /// </summary>
    [Theory]
    [InlineData("pg_replication_origin_xact_setup(pg_lsn, timestamptz)", "record")]
    [InlineData("pg_replication_origin_progress(text, boolean)", "read")]
    public async Task ARoleThatMayNotRecordOrReadAnOriginKeepsItsCheckpointInTheTable(string withheld, string label)
    {
        await using var db = await postgres.CreateDatabasesAsync($"{nameof(ARoleThatMayNotRecordOrReadAnOriginKeepsItsCheckpointInTheTable)}{label}");
        await db.OnDestinationAsync("CREATE TABLE marks (n int)");
        var task = new TaskService(_temp.Store).Create($"applier-grants-{label}", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name)).Definition;
        var role = "origin_withheld_" + label;
        var password = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
        var granted = new[]
        {
            "pg_replication_origin_create(text)", "pg_replication_origin_oid(text)", "pg_replication_origin_session_setup(text)",
            "pg_replication_origin_xact_setup(pg_lsn, timestamptz)", "pg_replication_origin_progress(text, boolean)", "pg_replication_origin_session_progress(boolean)",
        }.Where(f => f != withheld);
        await PostgresFixture.ExecuteAsync(db.DestinationCluster, db.Name, $"""
            DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN PASSWORD '{password}';
            GRANT EXECUTE ON FUNCTION {string.Join(", ", granted)} TO {role};
            GRANT CREATE ON DATABASE "{db.Name}" TO {role}; GRANT INSERT ON public.marks TO {role};
            """);
        try
        {
            await using (var limited = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(db.DestinationConnectionString) { Username = role, Password = password }.ConnectionString))
            {
                await limited.OpenAsync();
                await Sync.Engine.Runtime.RealtimeSync.PrepareApplySessionAsync(limited, CancellationToken.None);
                var checkpoint = await Checkpoint.OpenAsync(limited, task, CancellationToken.None);
                Assert.False(checkpoint.UsesOrigin);
                Assert.Null(await checkpoint.ReadAsync(limited, CancellationToken.None));
                var applier = new ChangeApplier(limited, checkpoint, task.Name, TimeProvider.System);
                applier.BeginSourceTransaction();
                await applier.AddAsync(new ApplyStatement("INSERT INTO public.marks VALUES ($1::int) RETURNING 1", ["1"], null!, StatementMeaning.Insert, null, null), CancellationToken.None);
                applier.EndSourceTransaction(new CommitEvent(new SyncLsn(0x10), new SyncLsn(0x20), DateTimeOffset.UtcNow));
                await applier.CommitGroupAsync(_ => { }, CancellationToken.None);
                Assert.Equal(new SyncLsn(0x20), await checkpoint.ReadAsync(limited, CancellationToken.None));
            }
            Assert.Equal(1L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM marks"));
            Assert.Equal(0L, await db.DestinationScalarAsync<long>($"SELECT count(*) FROM pg_replication_origin WHERE roname = '{TaskNaming.OriginName(task)}'"));

            // A later run whose role may use origins starts its new origin from the table's position, not from nothing,
            // and records there from then on.
            var full = new NpgsqlConnection(db.DestinationConnectionString);
            await full.OpenAsync();
            await Sync.Engine.Runtime.RealtimeSync.PrepareApplySessionAsync(full, CancellationToken.None);
            try
            {
                var checkpoint = await Checkpoint.OpenAsync(full, task, CancellationToken.None);
                Assert.True(checkpoint.UsesOrigin);
                Assert.Equal(new SyncLsn(0x20), await checkpoint.ReadAsync(full, CancellationToken.None));
                var applier = new ChangeApplier(full, checkpoint, task.Name, TimeProvider.System);
                applier.BeginSourceTransaction();
                await applier.AddAsync(new ApplyStatement("INSERT INTO public.marks VALUES ($1::int) RETURNING 1", ["2"], null!, StatementMeaning.Insert, null, null), CancellationToken.None);
                applier.EndSourceTransaction(new CommitEvent(new SyncLsn(0x30), new SyncLsn(0x40), DateTimeOffset.UtcNow));
                await applier.CommitGroupAsync(_ => { }, CancellationToken.None);
                await full.CloseAsync();

                // And the limited role again, back on the table: the origin's later position counts where it may read it.
                await using var limited = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(db.DestinationConnectionString) { Username = role, Password = password }.ConnectionString);
                await limited.OpenAsync();
                await Sync.Engine.Runtime.RealtimeSync.PrepareApplySessionAsync(limited, CancellationToken.None);
                var again = await Checkpoint.OpenAsync(limited, task, CancellationToken.None);
                Assert.False(again.UsesOrigin);
                Assert.Equal(label == "record" ? new SyncLsn(0x40) : new SyncLsn(0x20), await again.ReadAsync(limited, CancellationToken.None));
            }
            finally
            {
                await DropOriginAsync(full, db, task);
                await full.DisposeAsync();
            }
        }
        finally
        {
            await PostgresFixture.ExecuteAsync(db.DestinationCluster, db.Name, $"DROP OWNED BY {role}; DROP ROLE {role}");
        }
    }

    /// <summary>
    /// Origins are the cluster's, not the database's: dropped from a session of their own, after the applier's ends. Its
    /// backend exits after the close has returned, and holds the origin until it has (55006, "in use by PID").
    /// </summary>
    private static async Task DropOriginAsync(NpgsqlConnection connection, DatabasePair db, TaskDefinition task)
    {
        await connection.CloseAsync();
        await using var cleanup = new NpgsqlConnection(db.DestinationConnectionString);
        await cleanup.OpenAsync();
        await using var drop = new NpgsqlCommand("SELECT pg_replication_origin_drop($1) WHERE pg_replication_origin_oid($1) IS NOT NULL", cleanup);
        drop.Parameters.AddWithValue(TaskNaming.OriginName(task));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await drop.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException e) when (e.SqlState == "55006" && clock.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>Real time, with timestamps counted from this clock's creation instead of from the machine's boot.</summary>
    private sealed class JustBootedClock : TimeProvider
    {
        private readonly long _origin = global::System.Diagnostics.Stopwatch.GetTimestamp();

        public override long GetTimestamp() => global::System.Diagnostics.Stopwatch.GetTimestamp() - _origin;
    }
}
