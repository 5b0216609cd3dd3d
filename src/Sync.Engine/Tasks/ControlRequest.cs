namespace Sync.Engine.Tasks;

/// <summary>One request in a task's control file.</summary>
public sealed record ControlRequest
{
    public required long Sequence { get; init; }
    public required ControlAction Action { get; init; }
    public required DateTimeOffset At { get; init; }
    /// <summary>user@host of whoever asked.</summary>
    public string? RequestedBy { get; init; }
}
