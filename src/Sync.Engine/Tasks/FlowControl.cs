namespace Sync.Engine.Tasks;

/// <summary>
/// Limits on how fast a task reads from the source: rows per second and bytes per second, all day
/// (no windows) or only inside up to three daily windows. A limit of null means unlimited.
/// </summary>
public sealed record FlowControl
{
    public long? RowsPerSecond { get; init; }
    public long? BytesPerSecond { get; init; }
    public IReadOnlyList<FlowWindow> Windows { get; init; } = [];

    public bool IsLimited => RowsPerSecond is not null || BytesPerSecond is not null;

    /// <summary>Whether the limits apply at this local time.</summary>
    public bool AppliesAt(TimeOnly localTime) => IsLimited && (Windows.Count == 0 || Windows.Any(w => w.Contains(localTime)));
}
