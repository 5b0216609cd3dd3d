namespace Sync.Engine.Tasks;

/// <summary>The requests waiting for a task's worker.</summary>
public sealed record ControlFile
{
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    public IReadOnlyList<ControlRequest> Requests { get; init; } = [];
}
