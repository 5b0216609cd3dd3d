namespace Sync;

/// <summary>What an event in a task's log is about.</summary>
public enum SyncEventKind
{
    Operator,
    StatusChanged,
    StageChanged,
    Precheck,
    Progress,
    Retry,
    Conflict,
    Error,
    Ddl,
    Warning,
}
