namespace Sync;

/// <summary>All prechecks of a task, with the success rate Start-SyncTask requires to be 100.</summary>
public sealed class PrecheckReport
{
    internal PrecheckReport(Engine.Precheck.PrecheckReport report)
    {
        TaskName = report.TaskName;
        At = report.At;
        SuccessRate = report.SuccessRate;
        Passed = report.Passed;
        Checks = report.Checks.Select(c => new PrecheckResult(report.TaskName, c)).ToArray();
        Failed = Checks.Where(c => c.Result == PrecheckOutcome.Failed).Select(c => c.Id).ToArray();
        Warnings = Checks.Where(c => c.Result == PrecheckOutcome.Warning).Select(c => c.Id).ToArray();
    }

    public string TaskName { get; }
    public DateTimeOffset At { get; }
    public double SuccessRate { get; }
    public bool Passed { get; }
    public IReadOnlyList<string> Failed { get; }
    public IReadOnlyList<string> Warnings { get; }
    public IReadOnlyList<PrecheckResult> Checks { get; }

    public override string ToString() => $"{TaskName}: {SuccessRate}%";
}
