namespace Sync.Engine.Compare;

/// <summary>One differing row: Missing (on the destination), Extra (only on the destination) or Changed.</summary>
public sealed record RowDifference(string Kind, string Key, string? SourceRow, string? DestinationRow);
