namespace Sync.Engine.Tasks;

/// <summary>Something a task created on a server, recorded so removing the task removes it.</summary>
public sealed record ServerObject
{
    public required ServerSide Side { get; init; }
    /// <summary>ReplicationSlot, Publication, ReplicationOrigin, Table, Schema.</summary>
    public required string Kind { get; init; }
    public required string Name { get; init; }
}
