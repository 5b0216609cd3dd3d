namespace Sync.Engine.Tasks;

/// <summary>The outcome of the task's last precheck run, kept in its state.</summary>
public sealed record PrecheckSummary
{
    public required DateTimeOffset At { get; init; }
    /// <summary>Share of checks that passed or only warned, 0-100.</summary>
    public required double SuccessRate { get; init; }
    public IReadOnlyList<string> FailedChecks { get; init; } = [];
    public IReadOnlyList<string> WarningChecks { get; init; } = [];
    /// <summary>The definition revision the checks ran against: an edit makes them stale.</summary>
    public long DefinitionRevision { get; init; }
}
