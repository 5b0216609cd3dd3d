using System.Diagnostics;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.FullSync;

[Collection(PostgresCollection.Name)]
public sealed class CopyResumeTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task AWorkerKilledInTheMiddleOfTheCopyResumesToAnEqualDatabase()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("""
            CREATE TABLE small (id int PRIMARY KEY, v text);
            INSERT INTO small SELECT g, 'small ' || g FROM generate_series(1, 1000) g;
            CREATE TABLE events (device int, at timestamptz, payload text);
            INSERT INTO events SELECT g % 97, '2024-01-01'::timestamptz + g * interval '1 second', repeat(md5(g::text), 3) FROM generate_series(1, 120000) g;
            CREATE TABLE readings (id bigint PRIMARY KEY, value double precision);
            INSERT INTO readings SELECT g, g / 3.0 FROM generate_series(1, 60000) g;
            """);
        var service = new TaskService(_temp.Store);
        service.Create("resume-1", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name), d => d with
        {
            Mode = SyncTaskMode.Full,
            // Slow and in many ranges, so the kill lands in the middle of the copy.
            Options = d.Options with { SplitTableBytes = 1024 * 1024, CopyWorkers = 2, FlowControl = new FlowControl { RowsPerSecond = 15000 } },
        });

        var first = await service.LaunchWorkerAsync("resume-1", TestTasks.WorkerSpec, CancellationToken.None);
        var progressTable = $"sync.\"{TaskNaming.CopyProgressTable(first.Definition)}\"";
        await TestTasks.WaitUntilAsync(() => CommittedRanges(db, progressTable) >= 2, TimeSpan.FromSeconds(60), "two committed ranges");
        using (var worker = Process.GetProcessById(first.State.Worker!.ProcessId))
        {
            worker.Kill();
            await worker.WaitForExitAsync();
        }
        var interrupted = service.Get("resume-1");
        Assert.Equal(Sync.WorkerLiveness.Dead, interrupted.Worker);
        Assert.NotEqual(Sync.TableCopyState.Copied, interrupted.State.Copy!.Tables.Single(t => t.Source == "public.events").State);

        service.Update("resume-1", new TaskChanges { RemoveFlowLimits = true });
        await service.LaunchWorkerAsync("resume-1", TestTasks.WorkerSpec, CancellationToken.None);
        await TestTasks.WaitUntilAsync(() => service.Get("resume-1") is { Worker: not Sync.WorkerLiveness.Alive } t && t.State.Status is SyncTaskStatus.Completed or SyncTaskStatus.Failed,
            TimeSpan.FromSeconds(120), "the resumed copy to finish");

        var done = service.Get("resume-1");
        Assert.True(done.State.Status == SyncTaskStatus.Completed, done.State.LastError?.Message);
        Assert.Equal(120000L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM events"));
        var report = await new Compare.TaskComparer(service.Connections).CompareAsync(done, ComparisonLevel.Row, null, 5, null, CancellationToken.None);
        Assert.True(report.AllEqual, string.Join("; ", report.Tables.Select(t => $"{t.SourceTable} {t.Result} missing {t.MissingRows} extra {t.ExtraRows}")));
        Assert.True(done.State.Copy!.Tables.All(t => t.State == Sync.TableCopyState.Copied));
    }

    private static long CommittedRanges(DatabasePair db, string progressTable)
    {
        try { return db.DestinationScalarAsync<long>($"SELECT count(*) FROM {progressTable}").GetAwaiter().GetResult(); }
        catch (Npgsql.PostgresException) { return 0; }
    }
}
