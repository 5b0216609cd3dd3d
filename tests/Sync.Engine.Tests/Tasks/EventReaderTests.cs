using Sync.Engine.Diagnostics;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Tasks;

/// <summary>Get-SyncTaskEvent's reading: filters, the last N, and following several logs without repeats.</summary>
public sealed class EventReaderTests : IDisposable
{
    private readonly TempStore _temp = new();
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

    public void Dispose() => _temp.Dispose();

    private void Append(string task, int minute, SyncEventLevel level, SyncEventKind kind, string message) =>
        _temp.Store.AppendEvent(task, new TaskEvent { Time = T0.AddMinutes(minute), Level = level, Kind = kind, Message = message });

    [Fact]
    public void ATimeWindowLevelsAndKindsSelectAndLastTakesTheNewestOfWhatIsAlreadyWritten()
    {
        var service = new TaskService(_temp.Store);
        TestTasks.CreateOffline(service, "ev-a");
        for (var m = 1; m <= 6; m++) Append("ev-a", m, m % 2 == 0 ? SyncEventLevel.Warning : SyncEventLevel.Information, m == 4 ? SyncEventKind.Conflict : SyncEventKind.Progress, $"e{m}");

        IEnumerable<string> Read(EventQuery q) => new EventReader(_temp.Store, q).ReadNew("ev-a").Select(e => e.Event.Message);

        Assert.Equal(["e3", "e4"], Read(new EventQuery { After = T0.AddMinutes(2), Before = T0.AddMinutes(5) }));
        Assert.Equal(["e2", "e4", "e6"], Read(new EventQuery { Levels = new HashSet<SyncEventLevel> { SyncEventLevel.Warning } }));
        Assert.Equal(["e4"], Read(new EventQuery { Kinds = new HashSet<SyncEventKind> { SyncEventKind.Conflict } }));
        Assert.Equal(["e4", "e6"], Read(new EventQuery { Levels = new HashSet<SyncEventLevel> { SyncEventLevel.Warning }, Last = 2 }));
    }

    [Fact]
    public void FollowingSeveralTasksReturnsEachNewEventOnceAndLastOnlyAppliesToTheFirstRead()
    {
        var service = new TaskService(_temp.Store);
        TestTasks.CreateOffline(service, "ev-b");
        TestTasks.CreateOffline(service, "ev-c");
        Append("ev-b", 1, SyncEventLevel.Information, SyncEventKind.Progress, "b1");
        Append("ev-b", 2, SyncEventLevel.Information, SyncEventKind.Progress, "b2");
        var reader = new EventReader(_temp.Store, new EventQuery { Last = 1, Kinds = new HashSet<SyncEventKind> { SyncEventKind.Progress } });

        // Task creation wrote an Operator event first; the kind filter leaves it out.
        Assert.Equal(["b2"], reader.ReadNew("ev-b").Select(e => e.Event.Message));
        Assert.Empty(reader.ReadNew("ev-c"));

        Append("ev-b", 3, SyncEventLevel.Information, SyncEventKind.Progress, "b3");
        Append("ev-b", 4, SyncEventLevel.Information, SyncEventKind.Progress, "b4");
        Append("ev-c", 3, SyncEventLevel.Information, SyncEventKind.Progress, "c1");
        Assert.Equal(["b3", "b4"], reader.ReadNew("ev-b").Select(e => e.Event.Message));
        Assert.Equal(["c1"], reader.ReadNew("ev-c").Select(e => e.Event.Message));
        Assert.Empty(reader.ReadNew("ev-b"));
        Assert.Empty(reader.ReadNew("ev-c"));
    }

    [Fact]
    public void FollowingEndsWhenTheWindowHasPassedOrTheTaskIsRemoved()
    {
        var service = new TaskService(_temp.Store);
        TestTasks.CreateOffline(service, "ev-gone");
        var before = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
        var reader = new EventReader(_temp.Store, new EventQuery { Before = before });
        Assert.False(reader.Exhausted(before - TimeSpan.FromMinutes(1)));
        Assert.True(reader.Exhausted(before + TimeSpan.FromSeconds(2)));
        Assert.False(new EventReader(_temp.Store, new EventQuery()).Exhausted(DateTimeOffset.MaxValue - TimeSpan.FromDays(1)));

        reader.ReadNew("ev-gone");
        _temp.Store.DeleteTask("ev-gone");
        var gone = Assert.Throws<SyncException>(() => reader.ReadNew("ev-gone"));
        Assert.Equal(ErrorIds.SyncTaskNotFound, gone.ErrorId);
        Assert.False(EventReader.KeepsFollowing(gone));
        Assert.True(EventReader.KeepsFollowing(new SyncException(ErrorIds.StoreFileUnreadable, SyncErrorCategory.ReadError, "busy")));
    }
}
