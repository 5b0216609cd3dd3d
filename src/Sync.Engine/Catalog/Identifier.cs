using System.Text;

namespace Sync.Engine.Catalog;

/// <summary>
/// PostgreSQL identifier rules in one place: quoting for SQL, and reading names the way psql does
/// (unquoted letters fold to lower case, double quotes keep case and any character, <c>""</c> is a quote).
/// </summary>
public static class Identifier
{
    /// <summary>Always quotes (quote_ident semantics without the "bare when safe" shortcut): safe for any name.</summary>
    public static string Quote(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.IndexOf('\0') >= 0)
            throw new ArgumentException("An identifier cannot contain a NUL character.", nameof(name));
        return "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    /// <summary>Quotes a string literal with standard_conforming_strings semantics (E'' is never used).</summary>
    public static string Literal(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.IndexOf('\0') >= 0)
            throw new ArgumentException("A string literal cannot contain a NUL character.", nameof(value));
        return "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
    }

    /// <summary>Shows a name the way a user would type it: bare when it is a plain lower-case name, quoted otherwise.</summary>
    public static string Display(string name)
    {
        if (name.Length > 0 && (char.IsAsciiLetterLower(name[0]) || name[0] == '_') &&
            name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_' || c == '$'))
            return name;
        return Quote(name);
    }

    /// <summary>
    /// Splits text such as <c>Sales."Order Lines"</c> into parts on unquoted dots, folding unquoted letters.
    /// Each part reports whether any of it was quoted (quoted wildcard characters are literal).
    /// </summary>
    public static IReadOnlyList<NamePart> SplitParts(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = new List<NamePart>();
        var current = new StringBuilder();
        var literalMask = new List<bool>();
        var inQuotes = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (inQuotes)
            {
                if (c == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"') { current.Append('"'); literalMask.Add(true); i++; }
                    else inQuotes = false;
                }
                else { current.Append(c); literalMask.Add(true); }
            }
            else if (c == '"') inQuotes = true;
            else if (c == '.') { parts.Add(new NamePart(current.ToString(), literalMask.ToArray())); current.Clear(); literalMask.Clear(); }
            else { current.Append(char.ToLowerInvariant(c)); literalMask.Add(false); }
        }
        if (inQuotes)
            throw new FormatException($"The name '{text}' has an unclosed double quote.");
        parts.Add(new NamePart(current.ToString(), literalMask.ToArray()));
        return parts;
    }

    /// <summary>Reads one identifier (no dots unless quoted).</summary>
    public static string ParseSingle(string text)
    {
        var parts = SplitParts(text.Trim());
        if (parts.Count != 1 || parts[0].Text.Length == 0)
            throw new FormatException($"'{text}' is not a single identifier. Quote names that contain dots: \"a.b\".");
        return parts[0].Text;
    }
}

/// <summary>One dot-separated part of a name; <see cref="Quoted"/> marks, per character, those that were inside quotes.</summary>
public sealed record NamePart(string Text, bool[] Quoted);
