using System.Globalization;

namespace Sync.Engine.Tasks;

/// <summary>Reads a flow-control window written as <c>HH:mm-HH:mm</c> (local time), such as <c>22:00-06:00</c>.</summary>
public static class FlowWindowParser
{
    public static FlowWindow Parse(string text)
    {
        var parts = text.Split('-', 2, StringSplitOptions.TrimEntries);
        if (parts.Length != 2 ||
            !TimeOnly.TryParseExact(parts[0], ["H:mm", "HH:mm"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var start) ||
            !TimeOnly.TryParseExact(parts[1], ["H:mm", "HH:mm"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var end))
            throw new FormatException($"Flow window '{text}' is not of the form HH:mm-HH:mm, for example 22:00-06:00.");
        return new FlowWindow { Start = start, End = end };
    }
}
