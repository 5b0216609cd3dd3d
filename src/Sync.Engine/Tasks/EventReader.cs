using Sync.Engine.Store;

namespace Sync.Engine.Tasks;

/// <summary>Which events Get-SyncTaskEvent returns: a time window, levels, kinds, and at first only the last N.</summary>
public sealed record EventQuery
{
    /// <summary>Only events after this time.</summary>
    public DateTimeOffset? After { get; init; }
    /// <summary>Only events before this time.</summary>
    public DateTimeOffset? Before { get; init; }
    public IReadOnlySet<SyncEventLevel>? Levels { get; init; }
    public IReadOnlySet<SyncEventKind>? Kinds { get; init; }
    /// <summary>Of the events already written, only the last N that match (0: all); events that follow are all returned.</summary>
    public int Last { get; init; }

    public bool Matches(TaskEvent e) =>
        (After is null || e.Time > After) && (Before is null || e.Time < Before) &&
        (Levels is null || Levels.Contains(e.Level)) && (Kinds is null || Kinds.Contains(e.Kind));
}

/// <summary>
/// Reads tasks' event logs by a query and remembers where each log was read to, so that following several tasks
/// (Get-SyncTaskEvent -Wait) returns each new event once, in the order written per task.
/// </summary>
public sealed class EventReader(ITaskStore store, EventQuery query)
{
    private readonly Dictionary<string, long> _positions = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The matching events of <paramref name="task"/> written since the last call for it (the first call applies <see cref="EventQuery.Last"/>).</summary>
    public IReadOnlyList<(TaskEvent Event, long Position)> ReadNew(string task)
    {
        var first = !_positions.TryGetValue(task, out var position);
        var events = store.ReadEvents(task, position);
        // A removed task's log is gone, not empty: say so, so that following it ends.
        if (events.Count == 0 && store.FindTaskName(task) is null) throw Diagnostics.SyncException.NotFound(task);
        if (events.Count > 0) _positions[task] = events[^1].Position;
        else if (first) _positions[task] = 0;
        var matching = events.Where(e => query.Matches(e.Event)).ToList();
        return first && query.Last > 0 ? matching.TakeLast(query.Last).ToList() : matching;
    }

    /// <summary>
    /// True once no event written from now on can match (the query's -Before has passed, with a second's grace for
    /// an event stamped just before it and written just after): following ends after one last read.
    /// </summary>
    public bool Exhausted(DateTimeOffset now) => query.Before is { } before && now >= before + TimeSpan.FromSeconds(1);

    /// <summary>
    /// Whether following a task goes on after reading its log failed: a removed task is dropped; anything else (a log
    /// being rotated or written over a network share) is reported and read again at the next poll.
    /// </summary>
    public static bool KeepsFollowing(Diagnostics.SyncException error) => error.ErrorId != Diagnostics.ErrorIds.SyncTaskNotFound;
}
