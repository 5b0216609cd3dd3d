namespace Sync.Engine.Precheck;

/// <summary>All prechecks of a task. Warnings count as passed in the success rate; failures block the start.</summary>
public sealed record PrecheckReport(string TaskName, DateTimeOffset At, IReadOnlyList<PrecheckResult> Checks)
{
    public double SuccessRate => Checks.Count == 0 ? 100 : Math.Round(100.0 * Checks.Count(c => c.Outcome != PrecheckOutcome.Failed) / Checks.Count, 1);

    public IEnumerable<PrecheckResult> Failures => Checks.Where(c => c.Outcome == PrecheckOutcome.Failed);

    public bool Passed => SuccessRate >= 100;

    /// <summary>True when every failure is ignorable and named in <paramref name="ignored"/>.</summary>
    public bool PassesIgnoring(IEnumerable<string> ignored)
    {
        var set = new HashSet<string>(ignored, StringComparer.OrdinalIgnoreCase);
        return Failures.All(f => f.Ignorable && set.Contains(f.Id));
    }
}
