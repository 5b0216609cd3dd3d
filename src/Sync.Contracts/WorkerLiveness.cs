namespace Sync;

/// <summary>Whether a task's worker is running, as far as the store can tell.</summary>
public enum WorkerLiveness
{
    /// <summary>No worker is expected (the task is not running).</summary>
    None,
    /// <summary>A worker holds the task's lease.</summary>
    Alive,
    /// <summary>The state says running but no process holds the lease: the worker died.</summary>
    Dead,
    /// <summary>A process holds the lease but has not written a heartbeat for a while: hung, or starved of CPU or disk.</summary>
    Unresponsive,
}
