using Microsoft.Extensions.Logging.Abstractions;
using Sync.Engine.Diagnostics;
using Sync.Engine.Runtime;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Tasks;

/// <summary>Wait-SyncTask's targets: a condition, a stage reached or passed, a status; and what stops short of them.</summary>
[Collection(PostgresCollection.Name)]
public sealed class WaitTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task ACompletedFullTaskHasPassedItsCopyStagesAndWillNeverStream()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)");
        var service = new TaskService(_temp.Store);
        service.Create("wait-full", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name), d => d with { Mode = SyncTaskMode.Full });

        var early = await Assert.ThrowsAsync<SyncException>(() => service.WaitAsync("wait-full", new WaitTarget { Status = SyncTaskStatus.Running }, TimeSpan.FromSeconds(5), null, CancellationToken.None));
        Assert.Contains("is Created and will not reach status Running", early.Message);

        Assert.Equal(0, await new WorkerHost(_temp.Store, TaskRunner.For, NullLoggerFactory.Instance).RunAsync("wait-full", CancellationToken.None));

        Assert.Equal(SyncTaskStatus.Completed, (await service.WaitAsync("wait-full", new WaitTarget { Status = SyncTaskStatus.Completed }, TimeSpan.FromSeconds(5), null, CancellationToken.None)).State.Status);
        await service.WaitAsync("wait-full", new WaitTarget { Stage = SyncTaskStage.FullInitialization }, TimeSpan.FromSeconds(5), null, CancellationToken.None);
        await service.WaitAsync("wait-full", WaitTarget.For(WaitCondition.FullSyncComplete, TimeSpan.FromSeconds(1)), TimeSpan.FromSeconds(5), null, CancellationToken.None);
        var never = await Assert.ThrowsAsync<SyncException>(() => service.WaitAsync("wait-full", new WaitTarget { Stage = SyncTaskStage.RealtimeSync }, TimeSpan.FromSeconds(5), null, CancellationToken.None));
        Assert.Contains("will not reach stage RealtimeSync", never.Message);
        await Assert.ThrowsAsync<SyncException>(() => service.WaitAsync("wait-full", new WaitTarget { Status = SyncTaskStatus.Paused }, TimeSpan.FromSeconds(5), null, CancellationToken.None));
        // A wait for the task to fail ends, unmet, once the task has ended otherwise.
        var notFailed = await Assert.ThrowsAsync<SyncException>(() => service.WaitAsync("wait-full", new WaitTarget { Status = SyncTaskStatus.Failed }, TimeSpan.FromSeconds(30), null, CancellationToken.None));
        Assert.Contains("is Completed and will not reach status Failed", notFailed.Message);
    }

    [Fact]
    public async Task ADeadWorkersLastStatusIsNotReachedAndAFailedTaskReachesOnlyFailed()
    {
        var service = new TaskService(_temp.Store);
        TestTasks.CreateOffline(service, "wait-dead", d => d with { Mode = SyncTaskMode.FullIncremental });
        // What a killed worker leaves: status Running in stage RealtimeSync, a heartbeat, and no process holding the lease.
        _temp.Store.UpdateState("wait-dead", s => s with
        {
            Status = SyncTaskStatus.Running,
            Stage = SyncTaskStage.RealtimeSync,
            Worker = new WorkerInfo { ProcessId = 999999, HostName = Environment.MachineName, StartedAt = DateTimeOffset.UtcNow, Heartbeat = DateTimeOffset.UtcNow },
        });
        Assert.Equal(WorkerLiveness.Dead, service.Get("wait-dead").Worker);
        var dead = await Assert.ThrowsAsync<SyncException>(() => service.WaitAsync("wait-dead", new WaitTarget { Status = SyncTaskStatus.Running }, TimeSpan.FromSeconds(30), null, CancellationToken.None));
        Assert.Contains("(its worker died) and will not reach status Running", dead.Message);
        await Assert.ThrowsAsync<SyncException>(() => service.WaitAsync("wait-dead", WaitTarget.For(WaitCondition.CaughtUp, TimeSpan.FromSeconds(5)), TimeSpan.FromSeconds(30), null, CancellationToken.None));
        // Starting without a worker: a launch in progress, until it is older than any launch takes.
        _temp.Store.UpdateState("wait-dead", s => s with { Status = SyncTaskStatus.Starting, Worker = null });
        var starting = service.Get("wait-dead");
        var running = new WaitTarget { Status = SyncTaskStatus.Running };
        Assert.Equal(WaitTarget.Verdict.Pending, running.Judge(starting, starting.State.UpdatedAt + TimeSpan.FromSeconds(10)));
        Assert.Equal(WaitTarget.Verdict.Unreachable, running.Judge(starting, starting.State.UpdatedAt + WaitTarget.StaleStart + TimeSpan.FromSeconds(1)));
        _temp.Store.UpdateState("wait-dead", s => s with
        {
            Status = SyncTaskStatus.Running,
            Worker = new WorkerInfo { ProcessId = 999999, HostName = Environment.MachineName, StartedAt = DateTimeOffset.UtcNow, Heartbeat = DateTimeOffset.UtcNow },
        });
        // The stage it got to still counts: stages are not undone by a dead worker.
        await service.WaitAsync("wait-dead", new WaitTarget { Stage = SyncTaskStage.RealtimeSync }, TimeSpan.FromSeconds(30), null, CancellationToken.None);

        _temp.Store.UpdateState("wait-dead", s => s with
        {
            Status = SyncTaskStatus.Failed, Worker = null,
            LastError = new ErrorState { ErrorId = ErrorIds.ReplicationSlotMissing, Message = "the slot was dropped", At = DateTimeOffset.UtcNow },
        });
        var failed = await Assert.ThrowsAsync<SyncException>(() => service.WaitAsync("wait-dead", new WaitTarget { Stage = SyncTaskStage.RealtimeSync }, TimeSpan.FromSeconds(30), null, CancellationToken.None));
        Assert.Equal(ErrorIds.ReplicationSlotMissing, failed.ErrorId);
        Assert.Contains("will not reach stage RealtimeSync: the slot was dropped", failed.Message);
        await Assert.ThrowsAsync<SyncException>(() => service.WaitAsync("wait-dead", WaitTarget.For(WaitCondition.Stopped, TimeSpan.FromSeconds(1)), TimeSpan.FromSeconds(30), null, CancellationToken.None));
        Assert.Equal(SyncTaskStatus.Failed, (await service.WaitAsync("wait-dead", new WaitTarget { Status = SyncTaskStatus.Failed }, TimeSpan.FromSeconds(30), null, CancellationToken.None)).State.Status);
    }
}
