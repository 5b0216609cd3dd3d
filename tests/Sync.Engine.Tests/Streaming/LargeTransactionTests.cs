using Npgsql;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Streaming;

/// <summary>
/// Transactions larger than the source's logical_decoding_work_mem stream while in progress (protocol 2): gathered by the
/// worker, applied at their commit in commit order, aborted ones and rolled-back savepoints never applied.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class LargeTransactionTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task LargeTransactionsStreamInProgressAndApplyExactlyAtTheirCommit()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync($"""
            CREATE TABLE big (id int PRIMARY KEY, v text, n int);
            CREATE TABLE small (id int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp());
            ALTER DATABASE "{db.Name}" SET logical_decoding_work_mem = '64kB';
            """);
        var service = new TaskService(_temp.Store);
        var task = service.Create("large-tx", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        await using var harness = new StreamingHarness(service, db, "large-tx");
        await harness.StartAsync();
        // The order changes reach the destination in: a trigger that fires in the apply session too (ENABLE ALWAYS)
        // numbers each row of the open large transaction and of the small ones as it is written.
        await db.OnDestinationAsync("""
            CREATE TABLE applied (seq bigserial PRIMARY KEY, tbl text, id int);
            CREATE FUNCTION note_applied() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN INSERT INTO public.applied (tbl, id) VALUES (TG_TABLE_NAME, NEW.id); RETURN NEW; END $$;
            CREATE TRIGGER big_applied AFTER INSERT OR UPDATE ON big FOR EACH ROW WHEN (NEW.id > 400000) EXECUTE FUNCTION note_applied();
            CREATE TRIGGER small_applied AFTER INSERT ON small FOR EACH ROW EXECUTE FUNCTION note_applied();
            ALTER TABLE big ENABLE ALWAYS TRIGGER big_applied;
            ALTER TABLE small ENABLE ALWAYS TRIGGER small_applied;
            """);

        // One large transaction with a savepoint rolled back in its middle, committed.
        await db.OnSourceAsync("""
            BEGIN;
            INSERT INTO big SELECT g, repeat('a', 200), 0 FROM generate_series(1, 5000) g;
            SAVEPOINT s1;
            INSERT INTO big SELECT g, repeat('r', 200), 0 FROM generate_series(100001, 105000) g;
            UPDATE big SET n = -1 WHERE id <= 100;
            ROLLBACK TO s1;
            UPDATE big SET n = n + 1 WHERE id <= 2500;
            SAVEPOINT s2;
            INSERT INTO big SELECT g, repeat('k', 200), 2 FROM generate_series(200001, 202000) g;
            RELEASE s2;
            COMMIT;
            """);
        // One large transaction rolled back: nothing of it may arrive.
        await db.OnSourceAsync("BEGIN; INSERT INTO big SELECT g, repeat('x', 200), 9 FROM generate_series(300001, 306000) g; ROLLBACK;");
        // A large transaction open while small ones commit: they must arrive in commit order, the large one last.
        await using (var open = new NpgsqlConnection(db.SourceConnectionString))
        {
            await open.OpenAsync();
            await using (var start = new NpgsqlCommand("BEGIN; INSERT INTO big SELECT g, repeat('o', 200), 3 FROM generate_series(400001, 404000) g", open))
                await start.ExecuteNonQueryAsync();
            for (var i = 1; i <= 20; i++) await db.OnSourceAsync($"INSERT INTO small (id) VALUES ({i})");
            await using (var finish = new NpgsqlCommand("UPDATE big SET n = 4 WHERE id BETWEEN 400001 AND 400010; INSERT INTO small (id) VALUES (1000); COMMIT", open))
                await finish.ExecuteNonQueryAsync();
        }

        await harness.CatchUpAsync(TimeSpan.FromSeconds(120));
        await harness.AssertEqualAsync();
        Assert.Equal(11000L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM big"));
        Assert.Equal(0L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM big WHERE n IN (-1, 9) OR id BETWEEN 100001 AND 105000"));
        Assert.Equal(2500L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM big WHERE id <= 5000 AND n = 1"));
        // Commit order: the twenty small transactions before any row of the large one, which began first and committed
        // last; its own last change (small 1000) after all of its rows.
        Assert.Equal(4010L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM applied WHERE tbl = 'big'"));
        Assert.True(await db.DestinationScalarAsync<bool>("""
            SELECT max(seq) FILTER (WHERE tbl = 'small' AND id <= 20) < min(seq) FILTER (WHERE tbl = 'big')
               AND max(seq) FILTER (WHERE tbl = 'big') < min(seq) FILTER (WHERE tbl = 'small' AND id = 1000)
            FROM applied
            """), "the large transaction must apply at its commit, after the small ones that committed while it was open");
        // The source really streamed them (instead of spilling them to its own disk until the commit).
        var slot = TaskNaming.SlotName(task.Definition);
        Assert.True(await db.SourceScalarAsync<long>($"SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = '{slot}'") >= 3,
            "the source should have streamed the large transactions");
        // What was gathered is gone once applied or aborted.
        var spool = Path.Combine(_temp.Store.TaskFolder("large-tx"), "spool");
        Assert.True(!Directory.Exists(spool) || Directory.GetFiles(spool).Length == 0, "spool files left: " + (Directory.Exists(spool) ? string.Join(", ", Directory.GetFiles(spool)) : ""));
    }
}
