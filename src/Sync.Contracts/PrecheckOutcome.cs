namespace Sync;

/// <summary>The result of one precheck.</summary>
public enum PrecheckOutcome
{
    Passed,
    Warning,
    Failed,
}
