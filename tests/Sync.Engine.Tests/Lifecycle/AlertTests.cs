using Npgsql;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Lifecycle;

/// <summary>The events a scheduled alerting script reacts to (docs/operations.md, "Alerting").</summary>
[Collection(PostgresCollection.Name)]
public sealed class AlertTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task LatencyOverTheThresholdLogsAWarningAndBackUnderAnInformation()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY)");
        var service = new TaskService(_temp.Store);
        service.Create("alert-latency", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental, Options = d.Options with { LatencyWarningSeconds = 2 } });
        await using var harness = new StreamingHarness(service, db, "alert-latency");
        await harness.StartAsync();

        // Hold the destination table: the stream cannot apply, and what it applies afterwards is late.
        await using (var blocker = new NpgsqlConnection(db.DestinationConnectionString))
        {
            await blocker.OpenAsync();
            await using var transaction = await blocker.BeginTransactionAsync();
            await using (var lockTable = new NpgsqlCommand("LOCK TABLE t IN ACCESS EXCLUSIVE MODE", blocker, transaction))
                await lockTable.ExecuteNonQueryAsync();
            await db.OnSourceAsync("INSERT INTO t VALUES (1)");
            await Task.Delay(4000);
            await transaction.CommitAsync();
        }
        await db.OnSourceAsync("INSERT INTO t VALUES (2)");
        await TestTasks.WaitUntilAsync(() =>
        {
            var events = _temp.Store.ReadEvents("alert-latency").Select(e => e.Event).ToList();
            var over = events.FindIndex(e => e.Level == SyncEventLevel.Warning && e.Message.Contains("over the task's threshold of 2 s", StringComparison.Ordinal));
            return over >= 0 && events.Skip(over).Any(e => e.Level == SyncEventLevel.Information && e.Message.Contains("back under", StringComparison.Ordinal));
        }, TimeSpan.FromSeconds(60), () => "a latency warning and its all-clear: " + string.Join(" | ", _temp.Store.ReadEvents("alert-latency").Select(e => e.Event.Message)));
        var warning = _temp.Store.ReadEvents("alert-latency").Select(e => e.Event).First(e => e.Level == SyncEventLevel.Warning && e.Message.Contains("Latency", StringComparison.Ordinal));
        Assert.True(double.Parse(warning.Data!["latencySeconds"], System.Globalization.CultureInfo.InvariantCulture) > 2);
        await harness.CatchUpAsync();
        await harness.AssertEqualAsync();
    }
}
