using Sync.Engine.Compare;
using Sync.Engine.Diagnostics;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Tasks;

/// <summary>What a cmdlet's -Verbose and -Debug show of the engine's work on its behalf (TaskService.ForCaller).</summary>
[Collection(PostgresCollection.Name)]
public sealed class CallerMessagesTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task PrechecksComparisonsAndRemovalsAreNarratedAtTheLevelAskedFor()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)");
        var messages = new List<(CallerMessageLevel Level, string Text)>();
        var verbose = TaskService.ForCaller(_temp.Store, (level, text) => { lock (messages) messages.Add((level, text)); }, CallerMessageLevel.Verbose);
        var task = verbose.Create("narrated", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name), d => d with { Mode = SyncTaskMode.Full });

        await verbose.RunPrechecksAsync("narrated", CancellationToken.None);
        await verbose.CompareAsync(verbose.Get("narrated"), ComparisonLevel.RowCount, null, 0, null, CancellationToken.None);

        Assert.Contains(messages, m => m is { Level: CallerMessageLevel.Verbose } && m.Text.Contains("Task narrated: prechecks 100%"));
        Assert.True(messages.Any(m => m.Level == CallerMessageLevel.Verbose && m.Text.Contains("public.t compared (RowCount): MissingOnDestination, 2 source rows")), string.Join(" | ", messages));
        // Per-check lines are Debug: not formatted, not shown, under -Verbose alone.
        Assert.DoesNotContain(messages, m => m.Level == CallerMessageLevel.Debug);

        messages.Clear();
        var debug = TaskService.ForCaller(_temp.Store, (level, text) => { lock (messages) messages.Add((level, text)); }, CallerMessageLevel.Debug);
        await debug.RunPrechecksAsync("narrated", CancellationToken.None);
        Assert.Contains(messages, m => m.Level == CallerMessageLevel.Debug && m.Text.Contains("precheck SourceConnectivity Passed"));
        Assert.DoesNotContain(messages, m => m.Text.Contains(db.SourceCluster.SuperuserPassword));

        messages.Clear();
        var quiet = TaskService.ForCaller(_temp.Store, (level, text) => { lock (messages) messages.Add((level, text)); }, CallerMessageLevel.Warning);
        await quiet.RunPrechecksAsync("narrated", CancellationToken.None);
        Assert.Empty(messages);
    }
}
