namespace Sync.Engine.Tasks;

/// <summary>A daily time window (local time of the worker's host) in which flow-control limits apply. It may span midnight.</summary>
public sealed record FlowWindow
{
    public required TimeOnly Start { get; init; }
    public required TimeOnly End { get; init; }

    public bool Contains(TimeOnly time) => Start <= End
        ? time >= Start && time < End
        : time >= Start || time < End;

    /// <summary>Minutes of the day covered, as half-open [from, to) intervals that do not wrap.</summary>
    public IEnumerable<(int From, int To)> Intervals()
    {
        var from = Start.Hour * 60 + Start.Minute;
        var to = End.Hour * 60 + End.Minute;
        if (from < to) yield return (from, to);
        else { yield return (from, 24 * 60); if (to > 0) yield return (0, to); }
    }

    public override string ToString() => $"{Start:HH\\:mm}-{End:HH\\:mm}";
}
