namespace Sync;

/// <summary>One differing row in a comparison's sample.</summary>
public sealed class RowDifferenceSample(string kind, string key, string? sourceRow, string? destinationRow)
{
    public string Kind { get; } = kind;
    public string Key { get; } = key;
    public string? SourceRow { get; } = sourceRow;
    public string? DestinationRow { get; } = destinationRow;

    public override string ToString() => $"{Kind} {Key}";
}
