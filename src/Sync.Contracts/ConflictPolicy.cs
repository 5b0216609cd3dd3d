namespace Sync;

/// <summary>What the apply does when a change conflicts with the destination's data.</summary>
public enum ConflictPolicy
{
    /// <summary>Stop the task in Failed with the conflicting rows in its last error (the references' "Report error").</summary>
    Fail,
    /// <summary>Keep the destination's row.</summary>
    Ignore,
    /// <summary>Write the source's row over the destination's.</summary>
    Overwrite,
}
