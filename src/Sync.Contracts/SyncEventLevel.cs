namespace Sync;

/// <summary>How much an event in a task's log matters.</summary>
public enum SyncEventLevel
{
    Information,
    Warning,
    Error,
}
