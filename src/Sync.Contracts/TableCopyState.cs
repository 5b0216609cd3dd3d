namespace Sync;

/// <summary>Where a table or range of the full copy is.</summary>
public enum TableCopyState
{
    Pending,
    Copying,
    Copied,
    Failed,
}
