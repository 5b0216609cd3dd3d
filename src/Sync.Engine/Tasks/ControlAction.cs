namespace Sync.Engine.Tasks;

/// <summary>A request from a cmdlet to a running worker.</summary>
public enum ControlAction
{
    /// <summary>Finish normally (drain, set sequences, drop the slot).</summary>
    Stop,
    /// <summary>Stop at once, keeping what was done.</summary>
    StopForce,
    /// <summary>Exit at a transaction boundary, keeping the slot.</summary>
    Pause,
    /// <summary>Re-read the definition (flow control, scope).</summary>
    Reload,
}
