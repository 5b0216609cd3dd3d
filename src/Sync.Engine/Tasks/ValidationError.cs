namespace Sync.Engine.Tasks;

/// <summary>One broken rule of a task definition: the field (as the cmdlet parameter names it) and the rule.</summary>
public sealed record ValidationError(string Field, string Rule)
{
    public override string ToString() => $"{Field}: {Rule}";
}
