namespace Sync.Engine.Diagnostics;

/// <summary>
/// A plain description of an error, ready to become a PowerShell ErrorRecord. Tests assert on it
/// without a PowerShell runtime.
/// </summary>
public sealed record ErrorInfo(string ErrorId, SyncErrorCategory Category, string Message, string? Target,
    bool Retriable, string? RecommendedAction = null);
