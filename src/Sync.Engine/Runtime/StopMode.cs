namespace Sync.Engine.Runtime;

/// <summary>What the operator asked a running worker to do.</summary>
public enum StopMode
{
    None,
    /// <summary>Finish normally: drain, set sequences, drop the slot.</summary>
    Stop,
    /// <summary>Stop at once.</summary>
    Force,
    /// <summary>Exit at a transaction boundary, keep the slot, resume later.</summary>
    Pause,
}
