namespace Sync;

/// <summary>What to do when a selected table already exists on the destination.</summary>
public enum ExistingTablePolicy
{
    /// <summary>The precheck fails and the task does not start.</summary>
    Error,
    /// <summary>The precheck warns; the existing table is kept and rows are copied into it (the conflict policy applies).</summary>
    Ignore,
}
