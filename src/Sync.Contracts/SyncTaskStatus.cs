namespace Sync;

/// <summary>Where a task is in its life (DESIGN.md, "Task, status, stage").</summary>
public enum SyncTaskStatus
{
    Created,
    Ready,
    Starting,
    Running,
    Paused,
    Retrying,
    Stopping,
    /// <summary>Finished what it was asked to do.</summary>
    Completed,
    /// <summary>Ended by an operator before it finished (Stop-SyncTask on an unfinished copy, or -Force).</summary>
    Stopped,
    Failed,
    Standby,
}
