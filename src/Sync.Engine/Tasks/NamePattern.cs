using System.Text;
using System.Text.RegularExpressions;
using Sync.Engine.Catalog;

namespace Sync.Engine.Tasks;

/// <summary>
/// A psql-style name pattern: <c>*</c> any run of characters, <c>?</c> one character, unquoted letters fold
/// to lower case, double quotes keep case and make wildcard characters literal. A pattern for tables may be
/// qualified (<c>sales.order*</c>); an unqualified table pattern matches in every schema.
/// </summary>
public sealed class NamePattern
{
    private readonly Regex? _schema;
    private readonly Regex _name;

    private NamePattern(string text, Regex? schema, Regex name)
    {
        Text = text;
        _schema = schema;
        _name = name;
    }

    public string Text { get; }

    public static NamePattern ForSchema(string text)
    {
        var parts = Identifier.SplitParts(text.Trim());
        if (parts.Count != 1 || parts[0].Text.Length == 0)
            throw new FormatException($"'{text}' is not a schema pattern. Quote schema names that contain dots.");
        return new NamePattern(text, null, ToRegex(parts[0]));
    }

    public static NamePattern ForTable(string text)
    {
        var parts = Identifier.SplitParts(text.Trim());
        if (parts.Any(p => p.Text.Length == 0) || parts.Count > 2)
            throw new FormatException($"'{text}' is not a table pattern. Write table or schema.table; quote names that contain dots.");
        return parts.Count == 1
            ? new NamePattern(text, null, ToRegex(parts[0]))
            : new NamePattern(text, ToRegex(parts[0]), ToRegex(parts[1]));
    }

    public bool MatchesSchema(string schema) => _name.IsMatch(schema);

    public bool MatchesTable(QualifiedName table) =>
        (_schema is null || _schema.IsMatch(table.Schema)) && _name.IsMatch(table.Name);

    public bool MatchesColumn(string column) => _name.IsMatch(column);

    private static Regex ToRegex(NamePart part)
    {
        var sb = new StringBuilder("^");
        for (var i = 0; i < part.Text.Length; i++)
        {
            var c = part.Text[i];
            if (!part.Quoted[i] && c == '*') sb.Append(".*");
            else if (!part.Quoted[i] && c == '?') sb.Append('.');
            else sb.Append(Regex.Escape(c.ToString()));
        }
        sb.Append('$');
        return new Regex(sb.ToString(), RegexOptions.CultureInvariant | RegexOptions.Singleline);
    }

    public override string ToString() => Text;
}
