using Sync.Engine.Runtime;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Runtime;

/// <summary>
/// The natively compiled worker (out/worker/Sync.Worker, published when this project builds): the one the bench measures.
/// Native compilation drops what the code reaches only by reflection, so the whole task runs in it here: the copy, the
/// stream in binary form with the types whose conversions differ most, a pause and a resume from the checkpoint, and a
/// normal stop. The rest of the suite launches the managed worker; SYNC_TEST_WORKER=out/worker/Sync.Worker runs every
/// launching test against this one.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class NativeWorkerTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string NativeWorker => Path.Combine(RepoPaths.Root, "out", "worker", "Sync.Worker");

    private const string Schema = """
        CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
        CREATE TABLE typed (
            id bigint PRIMARY KEY, t text, n numeric, ts timestamptz, j jsonb, u uuid, m mood, iv interval, b bytea, d date,
            f float8, big text);
        CREATE TABLE keyless (k int, v text);
        ALTER TABLE keyless REPLICA IDENTITY FULL;
        """;

    private const string Row = """
        INSERT INTO typed SELECT g, 'text ' || g, g * 1.5, '2026-12-02 10:00+00'::timestamptz + g * interval '1 minute',
               jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g)), md5(g::text)::uuid, (ARRAY['sad','ok','happy'])[g % 3 + 1]::mood,
               g * interval '1 hour', decode(md5(g::text), 'hex'), date '2026-01-01' + g, g / 7.0, repeat(md5(g::text), 400)
        FROM generate_series({0}, {1}) g
        """;

    [Fact]
    public async Task TheNativeWorkerCopiesStreamsInBinaryFormPausesResumesAndStops()
    {
        Assert.True(OperatingSystem.IsLinux() && File.Exists(NativeWorker),
            $"{NativeWorker} is missing: building Sync.Engine.Tests publishes it (target PublishNativeWorker), on Linux x64.");
        var worker = WorkerLaunchSpec.ForWorker(NativeWorker);
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync(Schema + ";" + string.Format(Row, 1, 200) + "; INSERT INTO keyless SELECT g, 'v' || g FROM generate_series(1, 20) g");
        var service = new TaskService(_temp.Store);
        service.Create("native", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        await using var harness = new StreamingHarness(service, db, "native");

        try
        {
            await service.StartAsync("native", worker, [], CancellationToken.None);
            await service.WaitAsync("native", WaitCondition.CaughtUp, TimeSpan.FromSeconds(120), TimeSpan.FromSeconds(5), null, CancellationToken.None);
            await db.OnSourceAsync(string.Format(Row, 201, 300));
            await db.OnSourceAsync("UPDATE typed SET n = n + 1, m = 'happy', j = j || '{\"x\": 1}', iv = iv + interval '1 day' WHERE id % 4 = 0");   // big stays unchanged: out of line, not sent
            await db.OnSourceAsync("UPDATE typed SET id = id + 1000 WHERE id % 50 = 0");
            await db.OnSourceAsync("DELETE FROM typed WHERE id % 7 = 0; UPDATE keyless SET v = 'changed' WHERE k = 3; DELETE FROM keyless WHERE k = 4");
            await harness.CatchUpAsync();
            await harness.AssertEqualAsync();

            await service.RequestStopAsync("native", ControlAction.Pause, wait: true, CancellationToken.None);
            Assert.Equal(SyncTaskStatus.Paused, service.Get("native").State.Status);
            await db.OnSourceAsync(string.Format(Row, 2001, 2100) + "; TRUNCATE keyless; INSERT INTO keyless VALUES (1, 'after the truncate')");
            await service.ResumeAsync("native", worker, CancellationToken.None);
            await harness.CatchUpAsync(TimeSpan.FromSeconds(90));
            await harness.AssertEqualAsync();
            Assert.Equal(1L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM keyless"));

            // Both runs streamed in binary form, with nothing compiled at run time, on the socket the reader holds between bursts.
            var starts = _temp.Store.ReadEvents("native").Select(e => e.Event.Message).Where(m => m.StartsWith("Streaming from slot", StringComparison.Ordinal)).ToList();
            Assert.True(starts.Count >= 2, string.Join(" | ", starts));   // more if a transient error restarted a stream
            Assert.All(starts, m => Assert.Contains(" in binary format", m, StringComparison.Ordinal));
            var log = File.ReadAllLines(WorkerLauncher.LogPath(_temp.Root, "native")).Where(l => l.Contains("the stream starts;", StringComparison.Ordinal)).ToList();
            Assert.True(log.Count >= 2, string.Join(" | ", log));
            Assert.All(log, l =>
            {
                Assert.Contains("(0 methods)", l, StringComparison.Ordinal);
                Assert.Contains("the stream's socket is held between bursts", l, StringComparison.Ordinal);
            });
        }
        catch
        {
            // A failed check must not leave a detached worker holding its slot (and this executable) for the rest of the suite.
            try { await service.RequestStopAsync("native", ControlAction.StopForce, wait: true, CancellationToken.None); }
            catch (Diagnostics.SyncException) { }
            throw;
        }

        var slot = TaskNaming.SlotName(service.Get("native").Definition);
        await service.RequestStopAsync("native", ControlAction.Stop, wait: true, CancellationToken.None);
        Assert.Equal(SyncTaskStatus.Completed, service.Get("native").State.Status);
        Assert.Equal(0L, await db.SourceScalarAsync<long>($"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"));
    }
}
