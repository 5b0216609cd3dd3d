namespace Sync.Engine.Catalog;

/// <summary>A schema-qualified object name, compared exactly (PostgreSQL names are case-sensitive once read).</summary>
public readonly record struct QualifiedName(string Schema, string Name) : IComparable<QualifiedName>
{
    /// <summary>
    /// Reads <c>schema.table</c> with psql's rules; a name without a schema is in <paramref name="defaultSchema"/>.
    /// </summary>
    public static QualifiedName Parse(string text, string defaultSchema = "public")
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = Identifier.SplitParts(text.Trim());
        if (parts.Any(p => p.Text.Length == 0))
            throw new FormatException($"'{text}' is not a table name: a part is empty. Write schema.table, quoting parts that contain dots or capitals.");
        return parts.Count switch
        {
            1 => new QualifiedName(defaultSchema, parts[0].Text),
            2 => new QualifiedName(parts[0].Text, parts[1].Text),
            _ => throw new FormatException($"'{text}' is not a table name: it has {parts.Count} dot-separated parts. Write schema.table, quoting parts that contain dots."),
        };
    }

    public static bool TryParse(string text, out QualifiedName name)
    {
        try { name = Parse(text); return true; }
        catch (FormatException) { name = default; return false; }
    }

    /// <summary>SQL text: both parts always quoted.</summary>
    public string Sql => Identifier.Quote(Schema) + "." + Identifier.Quote(Name);

    /// <summary>The canonical key used in task definitions and state: what a user would type.</summary>
    public override string ToString() => Identifier.Display(Schema) + "." + Identifier.Display(Name);

    public int CompareTo(QualifiedName other)
    {
        var c = string.CompareOrdinal(Schema, other.Schema);
        return c != 0 ? c : string.CompareOrdinal(Name, other.Name);
    }
}
