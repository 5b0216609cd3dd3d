namespace Sync.Engine.Catalog;

/// <summary>A sequence with its options and current value.</summary>
public sealed record SequenceInfo
{
    public required QualifiedName Name { get; init; }
    public required string DataType { get; init; }
    public long Start { get; init; }
    public long Increment { get; init; }
    public long Min { get; init; }
    public long Max { get; init; }
    public long Cache { get; init; }
    public bool Cycle { get; init; }
    /// <summary>The column that owns it (serial), if any.</summary>
    public (QualifiedName Table, string Column)? OwnedBy { get; init; }
    /// <summary>True when it is the internal sequence of an identity column.</summary>
    public bool IsIdentity { get; init; }
    public long? LastValue { get; init; }
}
