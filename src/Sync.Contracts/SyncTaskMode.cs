namespace Sync;

/// <summary>What a task does: copy once, copy then follow, or only follow.</summary>
public enum SyncTaskMode
{
    /// <summary>Schema and a consistent snapshot of the data, then the task completes.</summary>
    Full,
    /// <summary>Schema and snapshot, then changes streamed in real time from the snapshot's position.</summary>
    FullIncremental,
    /// <summary>Changes streamed from the moment the task starts; the destination is assumed to be in step.</summary>
    Incremental,
}
