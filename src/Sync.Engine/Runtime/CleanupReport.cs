namespace Sync.Engine.Runtime;

/// <summary>What removing a task's server objects did.</summary>
public sealed record CleanupReport
{
    public IReadOnlyList<string> Removed { get; init; } = [];
    public IReadOnlyList<LeftoverObject> LeftBehind { get; init; } = [];
    public bool Complete => LeftBehind.Count == 0;
}
