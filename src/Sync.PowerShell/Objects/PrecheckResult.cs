namespace Sync;

/// <summary>One precheck of Test-SyncTask.</summary>
public sealed class PrecheckResult
{
    internal PrecheckResult(string taskName, Engine.Precheck.PrecheckResult result)
    {
        TaskName = taskName;
        Id = result.Id;
        Name = result.Name;
        Result = result.Outcome;
        Ignorable = result.Ignorable;
        Message = result.Message;
        Remedy = result.Remedy;
    }

    public string TaskName { get; }
    /// <summary>Stable id, as -IgnoreCheck takes it.</summary>
    public string Id { get; }
    public string Name { get; }
    public PrecheckOutcome Result { get; }
    public bool Ignorable { get; }
    public string Message { get; }
    /// <summary>The SQL or setting that fixes it.</summary>
    public string? Remedy { get; }

    public override string ToString() => $"{Id}: {Result}";
}
