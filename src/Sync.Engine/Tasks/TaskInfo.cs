namespace Sync.Engine.Tasks;

/// <summary>A task as read from the store: definition, state, and whether its worker lives.</summary>
public sealed record TaskInfo(TaskDefinition Definition, TaskState State, WorkerLiveness Worker)
{
    public string Name => Definition.Name;

    /// <summary>True when a worker process holds the task (even one that has stopped beating).</summary>
    public bool IsRunning => Worker is WorkerLiveness.Alive or WorkerLiveness.Unresponsive;

    /// <summary>When the task's event log was last written.</summary>
    public DateTimeOffset? LastEventAt { get; init; }
}
