using Sync.Engine.Diagnostics;

namespace Sync.Engine.Runtime;

/// <summary>How a runner ended: the status the task takes, and the error when it failed.</summary>
public sealed record RunOutcome(SyncTaskStatus Status, ErrorInfo? Error = null, string? Message = null)
{
    public static RunOutcome Completed(string? message = null) => new(SyncTaskStatus.Completed, null, message);
    public static RunOutcome Paused(string? message = null) => new(SyncTaskStatus.Paused, null, message);
    public static RunOutcome Stopped(string? message = null) => new(SyncTaskStatus.Stopped, null, message);
    public static RunOutcome Failed(ErrorInfo error) => new(SyncTaskStatus.Failed, error, error.Message);
}
