using Microsoft.Extensions.Logging.Abstractions;
using Sync.Engine.Diagnostics;
using Sync.Engine.Runtime;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Streaming;

/// <summary>Stop-SyncTask -Force: the stream is abandoned at once, and the task still tries to release its source.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ForcedStopTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string ObjectsOf(TaskDefinition task) =>
        $"SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '{TaskNaming.SlotName(task)}%') || '/' || (SELECT count(*) FROM pg_publication WHERE pubname = '{TaskNaming.PublicationName(task)}')";

    [Fact]
    public async Task AForcedStopDropsTheSlotAndPublicationAndTheTaskNeedsAReset()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'x' FROM generate_series(1, 100) g");
        var service = new TaskService(_temp.Store);
        var task = service.Create("force-1", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        await using var harness = new StreamingHarness(service, db, "force-1");
        await harness.StartAsync();
        Assert.Equal("1/1", await db.SourceScalarAsync<string>(ObjectsOf(task.Definition)));

        await harness.StopAsync(ControlAction.StopForce);

        var stopped = service.Get("force-1");
        Assert.Equal(SyncTaskStatus.Stopped, stopped.State.Status);
        Assert.Empty(stopped.State.LeftOnServers);
        Assert.Equal("0/0", await db.SourceScalarAsync<string>(ObjectsOf(task.Definition)));
        Assert.Contains(_temp.Store.ReadEvents("force-1"), e => e.Event.Message.Contains("dropped on the source"));
        // Without its slot the stream cannot resume: the start says what to do instead of streaming from nowhere.
        var refused = await Assert.ThrowsAsync<SyncException>(() => service.StartAsync("force-1", TestTasks.WorkerSpec, [], CancellationToken.None));
        Assert.Contains("Reset-SyncTask", refused.Message);
    }

    [Fact]
    public async Task WhatAForcedStopCannotReachIsReportedWithTheSqlThatRemovesIt()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY)");
        using var proxy = new TcpProxy(db.SourceCluster.Port);
        var service = new TaskService(_temp.Store);
        var task = service.Create("force-2", TestTasks.Endpoint(db.SourceCluster, db.Name) with { Port = proxy.Port }, TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        await using var harness = new StreamingHarness(service, db, "force-2");
        await harness.StartAsync();

        proxy.Cut();
        await TestTasks.WaitUntilAsync(() => service.Get("force-2").State.Status == SyncTaskStatus.Retrying, TimeSpan.FromSeconds(30), "status Retrying");
        await harness.StopAsync(ControlAction.StopForce);

        var stopped = service.Get("force-2").State;
        Assert.Equal(SyncTaskStatus.Stopped, stopped.Status);
        Assert.Equal(2, stopped.LeftOnServers.Count);
        Assert.Contains(stopped.LeftOnServers, l => l.StartsWith("ReplicationSlot") && l.Contains("pg_drop_replication_slot"));
        Assert.Contains(stopped.LeftOnServers, l => l.StartsWith("Publication") && l.Contains("DROP PUBLICATION"));
        Assert.Contains(_temp.Store.ReadEvents("force-2"), e => e.Event.Level == Sync.SyncEventLevel.Warning && e.Event.Message.Contains("could not be removed"));
        Assert.Equal("1/1", await db.SourceScalarAsync<string>(ObjectsOf(task.Definition)));

        // With the source back, starting again resumes on the slot that was left: it is the task's again, not litter.
        proxy.Restore();
        await using (var again = new StreamingHarness(service, db, "force-2"))
        {
            await again.StartAsync();
            await TestTasks.WaitUntilAsync(() => service.Get("force-2").State is { Status: SyncTaskStatus.Running, LeftOnServers.Count: 0 }, TimeSpan.FromSeconds(30), "the worker to take the slot back");
            await db.OnSourceAsync("INSERT INTO t VALUES (1)");
            await again.CatchUpAsync();
            Assert.Equal(1L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM t"));
            proxy.Cut();
            await TestTasks.WaitUntilAsync(() => service.Get("force-2").State.Status == SyncTaskStatus.Retrying, TimeSpan.FromSeconds(30), "status Retrying again");
            await again.StopAsync(ControlAction.StopForce);
        }
        stopped = service.Get("force-2").State;
        Assert.Equal(2, stopped.LeftOnServers.Count);

        // The SQL in the report is what an admin runs; it removes exactly what was left (once the cut walsender is gone).
        await TestTasks.WaitUntilAsync(() => db.SourceScalarAsync<long>($"SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name LIKE '{TaskNaming.SlotName(task.Definition)}%'").GetAwaiter().GetResult() == 0,
            TimeSpan.FromSeconds(30), "the slot to be released");
        foreach (var left in stopped.LeftOnServers)
            await db.OnSourceAsync(left[(left.IndexOf("remove it with: ", StringComparison.Ordinal) + "remove it with: ".Length)..]);
        Assert.Equal("0/0", await db.SourceScalarAsync<string>(ObjectsOf(task.Definition)));
    }

    /// <summary>
    /// A forced stop cuts the run short, and what fails as it does (here a connection error, as a driver call cut off
    /// by the stop surfaces) does not make the task Failed: it ends Stopped, still drops its slot and publication, and
    /// keeps the error as its last. Before, it ended Failed and left the slot holding WAL on the source.
    /// </summary>
    [Fact]
    public async Task WhatFailsAsAForcedStopCutsTheRunDoesNotFailTheTaskOrKeepItsSlot()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY)");
        var service = new TaskService(_temp.Store);
        var task = service.Create("force-3", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        await using (var harness = new StreamingHarness(service, db, "force-3"))
        {
            await harness.StartAsync();
            Assert.Equal(0, await harness.StopAsync(ControlAction.Pause));
        }
        Assert.Equal("1/1", await db.SourceScalarAsync<string>(ObjectsOf(task.Definition)));

        var run = Task.Run(() => new WorkerHost(_temp.Store, _ => new CutShortRunner(), NullLoggerFactory.Instance).RunAsync("force-3", CancellationToken.None));
        await TestTasks.WaitUntilAsync(() => run.IsCompleted || service.Get("force-3").State.Worker is not null, TimeSpan.FromSeconds(30), "the worker to start");
        await service.RequestStopAsync("force-3", ControlAction.StopForce, wait: false, CancellationToken.None);

        Assert.Equal(WorkerExitCode.Success, await run.WaitAsync(TimeSpan.FromSeconds(60)));
        var stopped = service.Get("force-3").State;
        Assert.Equal(SyncTaskStatus.Stopped, stopped.Status);
        Assert.Contains("the connection to the source was lost", stopped.LastError!.Message);
        Assert.Equal("0/0", await db.SourceScalarAsync<string>(ObjectsOf(task.Definition)));
    }

    /// <summary>Streams until the forced stop, then fails with a connection error, as a driver call that the stop cut off does.</summary>
    private sealed class CutShortRunner : ITaskRunner
    {
        public async Task<RunOutcome> RunAsync(TaskRunContext context)
        {
            try { await Task.Delay(Timeout.Infinite, context.Halt); }
            catch (OperationCanceledException) { }
            throw new SyncException(ErrorIds.SourceConnectionFailed, SyncErrorCategory.ConnectionError, "the connection to the source was lost", context.TaskName, retriable: true);
        }
    }
}
