using Microsoft.Extensions.Logging.Abstractions;
using Sync.Engine.Runtime;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Lifecycle;

/// <summary>
/// What -WhatIf shows for the scope and copy operations (the engine's plans, which the cmdlets print instead of acting)
/// names the concrete actions and changes nothing: both databases and every store file are compared before and after.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class WhatIfTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task PlansForAddingRemovingRerunningAndCopyingAgainChangeNothing()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("""
            CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text); CREATE TABLE c (id int PRIMARY KEY, v text);
            INSERT INTO a SELECT g, 'a' FROM generate_series(1, 50) g; INSERT INTO b SELECT g, 'b' FROM generate_series(1, 50) g; INSERT INTO c VALUES (1, 'c');
            """);
        var service = new TaskService(_temp.Store);
        service.Create("whatif", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental, Selection = d.Selection with { IncludeTables = ["public.a", "public.b"] } });
        await using (var harness = new StreamingHarness(service, db, "whatif"))
        {
            await harness.StartAsync();
            await harness.CatchUpAsync();
            await harness.StopAsync(ControlAction.Pause);
        }

        var before = await ServerSnapshot.TakeAsync(db, _temp.Root);
        var scope = await service.PlanUpdateAsync("whatif", new TaskChanges { AddTables = ["public.c"], RemoveTables = ["public.b"] }, CancellationToken.None);
        var rerun = service.PlanCopyAgain("whatif", null);
        var backfill = service.PlanCopyAgain("whatif", ["a"]);
        Assert.Equal(before, await ServerSnapshot.TakeAsync(db, _temp.Root));

        Assert.Contains("add public.c: it is copied and streamed from the next start or resume", scope);
        Assert.Contains("remove public.b: it is no longer synchronized from the next start or resume; its destination rows are kept", scope);
        Assert.Equal(["public.a", "public.b"], rerun.Tables);
        Assert.Contains(rerun.Actions, a => a.StartsWith("add destination columns", StringComparison.Ordinal));
        Assert.Equal(["public.a"], backfill.Tables);
    }

    [Fact]
    public async Task AResetPlanOfACompletedFullTaskNamesTheTablesToTruncateAndChangesNothing()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 20)");
        await db.OnDestinationAsync("CREATE TABLE bystander (id int); INSERT INTO bystander VALUES (1)");
        var service = new TaskService(_temp.Store);
        service.Create("whatif-full", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.Full, Selection = d.Selection with { IncludeTables = ["public.t"] } });
        Assert.Equal(0, await new WorkerHost(_temp.Store, TaskRunner.For, NullLoggerFactory.Instance).RunAsync("whatif-full", CancellationToken.None));

        var before = await ServerSnapshot.TakeAsync(db, _temp.Root);
        var plan = await service.PlanResetAsync("whatif-full", clearDestination: true, CancellationToken.None);
        Assert.Equal(before, await ServerSnapshot.TakeAsync(db, _temp.Root));
        Assert.Equal(["public.t"], plan.TablesToTruncate);
    }
}
