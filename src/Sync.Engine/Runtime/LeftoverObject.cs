namespace Sync.Engine.Runtime;

/// <summary>Something a task made on a server that could not be removed, with the SQL that removes it.</summary>
public sealed record LeftoverObject(ServerSide Side, string Kind, string Name, string Endpoint, string Reason, string RemoveSql)
{
    public override string ToString() => $"{Kind} {Name} on the {Side.ToString().ToLowerInvariant()} {Endpoint} ({Reason}); remove it with: {RemoveSql}";
}
