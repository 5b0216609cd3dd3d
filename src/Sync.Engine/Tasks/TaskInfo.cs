namespace Sync.Engine.Tasks;

/// <summary>A task as read from the store: definition, state, and whether its worker lives.</summary>
public sealed record TaskInfo(TaskDefinition Definition, TaskState State, WorkerLiveness Worker)
{
    public string Name => Definition.Name;

    /// <summary>True when a worker process holds the task.</summary>
    public bool IsRunning => Worker == WorkerLiveness.Alive;
}
