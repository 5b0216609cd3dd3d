namespace Sync.Engine.Diagnostics;

/// <summary>
/// The one exception type the engine throws on purpose. It carries a stable error id, the category the
/// cmdlets report, the name of what failed, and whether the runtime may retry the operation.
/// Messages never contain secrets: they are built from endpoint descriptions, never connection strings.
/// </summary>
public sealed class SyncException : Exception
{
    public SyncException(string errorId, SyncErrorCategory category, string message, string? target = null,
        bool retriable = false, Exception? inner = null, string? sqlState = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Category = category;
        Target = target;
        Retriable = retriable;
        SqlState = sqlState;
    }

    public string ErrorId { get; }
    public SyncErrorCategory Category { get; }
    /// <summary>What the error is about: a task name, a table, a file path.</summary>
    public string? Target { get; }
    public bool Retriable { get; }
    public string? SqlState { get; }

    public static SyncException NotFound(string taskName) =>
        new(ErrorIds.SyncTaskNotFound, SyncErrorCategory.ObjectNotFound,
            $"No sync task named '{taskName}' exists in the store. Run Get-SyncTask to list the tasks.", taskName);

    public static SyncException InvalidState(string taskName, string action, string status, string hint) =>
        new(ErrorIds.SyncTaskInvalidState, SyncErrorCategory.InvalidOperation,
            $"Task '{taskName}' cannot {action}: its status is {status}. {hint}", taskName);
}
