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
    }
}
