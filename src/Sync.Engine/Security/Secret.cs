namespace Sync.Engine.Security;

/// <summary>
/// A plain-text secret held in memory for as short a time as possible. It never prints itself: ToString,
/// string interpolation, logging and JSON serialization (it has no contract) all see a mask.
/// </summary>
public sealed class Secret
{
    private readonly string _value;

    public Secret(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        _value = value;
    }

    public const string Mask = "********";

    /// <summary>The plain text, for the one place that must hand it to a driver or cipher.</summary>
    public string Reveal() => _value;

    public bool IsEmpty => _value.Length == 0;

    public override string ToString() => Mask;
}
