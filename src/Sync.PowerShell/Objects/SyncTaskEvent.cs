using Sync.Engine.Tasks;

namespace Sync;

/// <summary>One entry of a task's event log (Get-SyncTaskEvent).</summary>
public sealed class SyncTaskEvent
{
    internal SyncTaskEvent(string taskName, TaskEvent e, long position)
    {
        TaskName = taskName;
        Time = e.Time;
        Level = e.Level;
        Kind = e.Kind;
        Message = e.Message;
        Data = e.Data is null ? new Dictionary<string, string>() : new Dictionary<string, string>(e.Data);
        Position = position;
    }

    public string TaskName { get; }
    public DateTimeOffset Time { get; }
    public SyncEventLevel Level { get; }
    public SyncEventKind Kind { get; }
    public string Message { get; }
    /// <summary>Structured details: table, key, kind and resolution of a conflict, ...</summary>
    public IReadOnlyDictionary<string, string> Data { get; }
    /// <summary>Where the event ends in the log; events after it are read from here.</summary>
    public long Position { get; }

    public override string ToString() => $"{Time:u} {Level} {Kind}: {Message}";
}
