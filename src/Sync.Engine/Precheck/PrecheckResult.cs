namespace Sync.Engine.Precheck;

/// <summary>One precheck: stable id, what it found, whether it may be ignored, and the remedy.</summary>
public sealed record PrecheckResult(string Id, string Name, PrecheckOutcome Outcome, bool Ignorable, string Message, string? Remedy = null)
{
    public static PrecheckResult Pass(string id, string name, string message) => new(id, name, PrecheckOutcome.Passed, false, message);
}
