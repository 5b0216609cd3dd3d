namespace Sync.Engine.Tasks;

/// <summary>Which tasks Get-SyncTask returns. Every given filter must match.</summary>
public sealed record TaskQuery
{
    /// <summary>Wildcard patterns over names (PowerShell-style, case-insensitive).</summary>
    public IReadOnlyList<string>? Names { get; init; }
    public IReadOnlyList<string>? Ids { get; init; }
    public IReadOnlyList<SyncTaskStatus>? Statuses { get; init; }
    /// <summary>Tags as key or key=value; a key alone matches any value.</summary>
    public IReadOnlyList<string>? Tags { get; init; }
}
