using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Streaming;

[Collection(PostgresCollection.Name)]
public sealed class StreamingTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    private const string Schema = """
        CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
        CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric, feeling mood, tags text[], doc jsonb, big text);
        ALTER TABLE accounts ALTER COLUMN big SET STORAGE EXTERNAL;
        INSERT INTO accounts SELECT g, 'owner ' || g, g * 10, 'ok', ARRAY['a', 'b'], '{"k": 1}', repeat('x', 5000) FROM generate_series(1, 100) g;
        CREATE TABLE logbook (at timestamptz, line text);
        ALTER TABLE logbook REPLICA IDENTITY FULL;
        INSERT INTO logbook SELECT '2024-01-01'::timestamptz + g * interval '1 minute', 'line ' || (g % 5) FROM generate_series(1, 50) g;
        CREATE TABLE "Mixed Case" ("Id" bigserial PRIMARY KEY, "Value" text);
        INSERT INTO "Mixed Case" ("Value") SELECT 'v' || g FROM generate_series(1, 20) g;
        CREATE TABLE people (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);
        INSERT INTO people (name) SELECT 'p' || g FROM generate_series(1, 10) g;
        """;

    [Fact]
    public async Task ChangesAfterTheCopyArriveExactlyOnceAndStopEndsTheTask()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync(Schema);
        var service = new TaskService(_temp.Store);
        var task = service.Create("stream-1", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental, Options = d.Options with { SequenceSafetyMargin = 1000 } });
        await using var harness = new StreamingHarness(service, db, "stream-1");
        await harness.StartAsync();

        await db.OnSourceAsync("""
            INSERT INTO accounts SELECT g, 'new ' || g, g, 'happy', ARRAY[]::text[], NULL, repeat('y', 6000) FROM generate_series(101, 150) g;
            UPDATE accounts SET balance = balance + 1 WHERE id <= 30;
            UPDATE accounts SET id = id + 1000 WHERE id = 31;
            UPDATE accounts SET owner = NULL, feeling = 'sad' WHERE id = 32;
            DELETE FROM accounts WHERE id BETWEEN 40 AND 45;
            UPDATE logbook SET line = 'changed' WHERE line = 'line 1';
            DELETE FROM logbook WHERE line = 'line 2';
            INSERT INTO logbook VALUES ('2030-01-01', 'line 2'), ('2030-01-01', 'line 2');
            INSERT INTO "Mixed Case" ("Value") VALUES ('after copy');
            INSERT INTO people (name) VALUES ('identity always');
            UPDATE people SET name = 'renamed' WHERE id = 3;
            """);
        // One large transaction and many small ones.
        await db.OnSourceAsync("BEGIN; INSERT INTO accounts SELECT g, 'bulk', g, 'ok', NULL, '[]', NULL FROM generate_series(2000, 7000) g; UPDATE accounts SET tags = ARRAY['bulk'] WHERE id >= 2000; COMMIT;");
        for (var i = 0; i < 50; i++) await db.OnSourceAsync($"UPDATE accounts SET balance = {i} WHERE id = {2000 + i}");
        await harness.CatchUpAsync();
        await harness.AssertEqualAsync();
        // The unchanged TOAST value was kept, not nulled.
        Assert.Equal(5000, await db.DestinationScalarAsync<int>("SELECT length(big) FROM accounts WHERE id = 1"));

        await db.OnSourceAsync("TRUNCATE logbook; INSERT INTO logbook VALUES (now(), 'after truncate')");
        await harness.CatchUpAsync();
        await harness.AssertEqualAsync();

        var exit = await harness.StopAsync();
        Assert.True(exit == 0, service.Get("stream-1").State.LastError?.Message);
        var stopped = service.Get("stream-1");
        Assert.Equal(SyncTaskStatus.Completed, stopped.State.Status);
        Assert.Equal(0L, await db.SourceScalarAsync<long>($"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{TaskNaming.SlotName(task.Definition)}'"));
        Assert.Equal(0L, await db.SourceScalarAsync<long>($"SELECT count(*) FROM pg_publication WHERE pubname = '{TaskNaming.PublicationName(task.Definition)}'"));
        var sourceSequence = await db.SourceScalarAsync<long>("SELECT last_value FROM \"Mixed Case_Id_seq\"");
        Assert.Equal(sourceSequence + 1000, await db.DestinationScalarAsync<long>("SELECT last_value FROM \"Mixed Case_Id_seq\""));
    }

    [Fact]
    public async Task SequencesFollowTheSourceWhileStreamingWithoutTheStopsMargin()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("""
            CREATE TABLE serials (id bigserial PRIMARY KEY, v text);
            CREATE SEQUENCE tickets START 500 INCREMENT 5;
            INSERT INTO serials (v) SELECT 'v' FROM generate_series(1, 10);
            """);
        var service = new TaskService(_temp.Store);
        service.Create("stream-seq", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental, Options = d.Options with { SequenceSafetyMargin = 1000 } });
        var interval = Sync.Engine.Runtime.RealtimeSync.SequenceInterval;
        Sync.Engine.Runtime.RealtimeSync.SequenceInterval = TimeSpan.FromSeconds(1);
        try
        {
            await using var harness = new StreamingHarness(service, db, "stream-seq");
            await harness.StartAsync();
            // Rows applied carry their ids; the destination's own sequences move only by the periodic copy.
            await db.OnSourceAsync("INSERT INTO serials (v) SELECT 'w' FROM generate_series(1, 25); SELECT nextval('tickets') FROM generate_series(1, 3)");
            await TestTasks.WaitUntilAsync(() =>
                db.DestinationScalarAsync<long>("SELECT last_value FROM serials_id_seq").GetAwaiter().GetResult() == 35 &&
                db.DestinationScalarAsync<long>("SELECT last_value FROM tickets").GetAwaiter().GetResult() == 510,
                TimeSpan.FromSeconds(30), "the destination's sequences to follow the source while the task streams");
            Assert.Equal(SyncTaskStatus.Running, service.Get("stream-seq").State.Status);
            // The margin is for the stop only.
            Assert.Equal(0, await harness.StopAsync());
            Assert.Equal(1035L, await db.DestinationScalarAsync<long>("SELECT last_value FROM serials_id_seq"));
            Assert.Equal(1510L, await db.DestinationScalarAsync<long>("SELECT last_value FROM tickets"));
        }
        finally
        {
            Sync.Engine.Runtime.RealtimeSync.SequenceInterval = interval;
        }
    }
}
