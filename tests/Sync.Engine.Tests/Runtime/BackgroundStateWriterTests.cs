using Microsoft.Extensions.Logging.Abstractions;
using Sync.Engine.Runtime;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Runtime;

/// <summary>State reports written off the apply loop: the latest wins, and the last one is never lost.</summary>
public sealed class BackgroundStateWriterTests : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task TheLatestReportIsWrittenAndStoppingWritesWhatIsStillWaiting()
    {
        TestTasks.CreateOffline(new TaskService(_temp.Store), "reports");
        using var context = new TaskRunContext(_temp.Store, _temp.Store.ReadDefinition("reports"), NullLoggerFactory.Instance, TimeProvider.System);
        var problems = new List<string>();
        var writer = new BackgroundStateWriter(context, problems.Add);
        for (var i = 1; i <= 200; i++)
        {
            var n = i;
            writer.Post(s => s with { Stream = new StreamProgress { AppliedTransactions = n } });
        }
        await TestTasks.WaitUntilAsync(() => _temp.Store.ReadState("reports").Stream?.AppliedTransactions > 0, TimeSpan.FromSeconds(10), "a report to be written");

        writer.Post(s => s with { Stream = new StreamProgress { AppliedTransactions = 1000 } });
        await writer.DisposeAsync();
        Assert.Equal(1000, _temp.Store.ReadState("reports").Stream!.AppliedTransactions);

        // After the writer stopped, a report is written at once (the final positions of a stop come this way).
        writer.Post(s => s with { Stream = new StreamProgress { AppliedTransactions = 1001 } });
        Assert.Equal(1001, _temp.Store.ReadState("reports").Stream!.AppliedTransactions);
        await writer.DisposeAsync();
        Assert.Empty(problems);
    }

    [Fact]
    public async Task AReportThatCannotBeWrittenIsSkippedAndNeverStopsTheWriter()
    {
        TestTasks.CreateOffline(new TaskService(_temp.Store), "broken");
        using var context = new TaskRunContext(_temp.Store, _temp.Store.ReadDefinition("broken"), NullLoggerFactory.Instance, TimeProvider.System);
        var problems = new List<string>();
        var writer = new BackgroundStateWriter(context, m => { lock (problems) problems.Add(m); });
        var state = Directory.GetFiles(_temp.Root, "state.json", SearchOption.AllDirectories).Single();
        var saved = File.ReadAllBytes(state);
        File.WriteAllText(state, "{ not json");

        writer.Post(s => s with { Stream = new StreamProgress { AppliedTransactions = 1 } });
        await TestTasks.WaitUntilAsync(() => { lock (problems) return problems.Count > 0; }, TimeSpan.FromSeconds(10), "the failed write to be reported");
        Assert.Contains("state.json", problems[0]);

        File.WriteAllBytes(state, saved);
        writer.Post(s => s with { Stream = new StreamProgress { AppliedTransactions = 2 } });
        await writer.DisposeAsync();
        Assert.Equal(2, _temp.Store.ReadState("broken").Stream!.AppliedTransactions);
    }
}
