namespace Sync;

/// <summary>Which end of a task.</summary>
public enum ServerSide
{
    Source,
    Destination,
}
