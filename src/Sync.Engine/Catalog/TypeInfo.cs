namespace Sync.Engine.Catalog;

/// <summary>A user-defined type: e enum, c composite, d domain, r range.</summary>
public sealed record TypeInfo
{
    public required QualifiedName Name { get; init; }
    public required char Kind { get; init; }
    public IReadOnlyList<string> EnumLabels { get; init; } = [];
    /// <summary>Composite attributes: name and type text.</summary>
    public IReadOnlyList<(string Name, string Type)> Attributes { get; init; } = [];
    /// <summary>Domain base type or range subtype (format_type text).</summary>
    public string? BaseType { get; init; }
    public bool NotNull { get; init; }
    public string? Default { get; init; }
    /// <summary>Domain CHECK constraints (pg_get_constraintdef text).</summary>
    public IReadOnlyList<string> Checks { get; init; } = [];
}
