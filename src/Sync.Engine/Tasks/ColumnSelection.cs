namespace Sync.Engine.Tasks;

/// <summary>Which columns of one table are synchronized: include patterns (default all) minus exclude patterns.</summary>
public sealed record ColumnSelection
{
    public IReadOnlyList<string> Include { get; init; } = ["*"];
    public IReadOnlyList<string> Exclude { get; init; } = [];
}
