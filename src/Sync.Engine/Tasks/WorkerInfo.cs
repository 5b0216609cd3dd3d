namespace Sync.Engine.Tasks;

/// <summary>The worker process that runs a task, as it last reported itself.</summary>
public sealed record WorkerInfo
{
    public required int ProcessId { get; init; }
    public required string HostName { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required DateTimeOffset Heartbeat { get; init; }
}
