namespace Sync;

/// <summary>What Wait-SyncTask and Start-SyncTask -Wait wait for.</summary>
public enum WaitCondition
{
    /// <summary>The full copy and everything after it (indexes, views, sequences) is done.</summary>
    FullSyncComplete,
    /// <summary>Streaming, with latency below the bound.</summary>
    CaughtUp,
    /// <summary>No worker runs the task any more (it completed, stopped, paused or failed).</summary>
    Stopped,
}
