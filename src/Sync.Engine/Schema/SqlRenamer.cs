using System.Text;
using Sync.Engine.Catalog;

namespace Sync.Engine.Schema;

/// <summary>
/// Rewrites names inside SQL text the server generated (defaults, CHECK and index expressions, view bodies) for
/// name mapping. It tokenizes just enough of SQL to be safe: string literals, dollar-quoted bodies and comments are
/// never touched, quoted and bare identifiers are recognized, and only whole identifiers are replaced: a schema
/// when followed by a dot, a schema.table pair when the table is mapped, and a bare column when a column map is given.
/// </summary>
public sealed class SqlRenamer(IReadOnlyDictionary<string, string> schemas, IReadOnlyDictionary<QualifiedName, QualifiedName> tables)
{
    public bool IsIdentity => schemas.Count == 0 && tables.Count == 0;

    public string Rename(string sql, IReadOnlyDictionary<string, string>? columns = null)
    {
        if (IsIdentity && (columns is null || columns.Count == 0)) return sql;
        var tokens = Tokenize(sql);
        var output = new StringBuilder(sql.Length + 16);
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.Identifier is null)
            {
                output.Append(IsRegclassLiteral(tokens, i) ? RenameRegclassLiteral(token.Text) : token.Text);
                continue;
            }
            var followedByDot = i + 1 < tokens.Count && tokens[i + 1].Text == ".";
            var precededByDot = i > 0 && tokens[i - 1].Text == ".";
            if (followedByDot && !precededByDot && i + 2 < tokens.Count && tokens[i + 2].Identifier is { } second)
            {
                var pair = new QualifiedName(token.Identifier, second);
                if (tables.TryGetValue(pair, out var mapped))
                {
                    output.Append(mapped.Sql);
                    i += 2;
                    continue;
                }
                if (schemas.TryGetValue(token.Identifier, out var schema)) { output.Append(Identifier.Quote(schema)); continue; }
            }
            else if (followedByDot && !precededByDot && schemas.TryGetValue(token.Identifier, out var onlySchema))
            {
                output.Append(Identifier.Quote(onlySchema));
                continue;
            }
            var followedByParen = i + 1 < tokens.Count && tokens[i + 1].Text == "(";
            if (!followedByDot && !precededByDot && !followedByParen && columns is not null && columns.TryGetValue(token.Identifier, out var column))
            {
                output.Append(Identifier.Quote(column));
                continue;
            }
            output.Append(token.Text);
        }
        return output.ToString();
    }

    /// <summary>A string literal cast to regclass, as in nextval('public.orders_id_seq'::regclass).</summary>
    private static bool IsRegclassLiteral(List<Token> tokens, int i) =>
        tokens[i].Text.StartsWith('\'') && i + 3 < tokens.Count && tokens[i + 1].Text == ":" && tokens[i + 2].Text == ":" && tokens[i + 3].Identifier == "regclass";

    private string RenameRegclassLiteral(string literal)
    {
        var content = literal[1..^1].Replace("''", "'", StringComparison.Ordinal);
        if (!QualifiedName.TryParse(content, out var name) || !content.Contains('.')) return literal;
        var mapped = tables.TryGetValue(name, out var table) ? table
            : schemas.TryGetValue(name.Schema, out var schema) ? new QualifiedName(schema, name.Name) : name;
        return mapped == name ? literal : Identifier.Literal(mapped.Sql);
    }

    private sealed record Token(string Text, string? Identifier);

    private static List<Token> Tokenize(string sql)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            var start = i;
            if (c == '\'' || ((c == 'E' || c == 'e') && i + 1 < sql.Length && sql[i + 1] == '\'' && !PrecededByIdentifierChar(sql, i)))
            {
                var escapes = c != '\'';
                i += escapes ? 2 : 1;
                while (i < sql.Length)
                {
                    if (escapes && sql[i] == '\\') { i += 2; continue; }
                    if (sql[i] == '\'')
                    {
                        if (i + 1 < sql.Length && sql[i + 1] == '\'') { i += 2; continue; }
                        i++;
                        break;
                    }
                    i++;
                }
                tokens.Add(new Token(sql[start..Math.Min(i, sql.Length)], null));
            }
            else if (c == '"')
            {
                var name = new StringBuilder();
                i++;
                while (i < sql.Length)
                {
                    if (sql[i] == '"')
                    {
                        if (i + 1 < sql.Length && sql[i + 1] == '"') { name.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    name.Append(sql[i++]);
                }
                tokens.Add(new Token(sql[start..i], name.ToString()));
            }
            else if (c == '$' && TryDollarQuote(sql, i, out var end))
            {
                i = end;
                tokens.Add(new Token(sql[start..i], null));
            }
            else if (c == '-' && i + 1 < sql.Length && sql[i + 1] == '-')
            {
                while (i < sql.Length && sql[i] != '\n') i++;
                tokens.Add(new Token(sql[start..i], null));
            }
            else if (c == '/' && i + 1 < sql.Length && sql[i + 1] == '*')
            {
                var close = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = close < 0 ? sql.Length : close + 2;
                tokens.Add(new Token(sql[start..i], null));
            }
            else if (char.IsLetter(c) || c == '_')
            {
                while (i < sql.Length && (char.IsLetterOrDigit(sql[i]) || sql[i] == '_' || sql[i] == '$')) i++;
                var word = sql[start..i];
                tokens.Add(new Token(word, word.ToLowerInvariant()));
            }
            else if (char.IsDigit(c))
            {
                while (i < sql.Length && (char.IsLetterOrDigit(sql[i]) || sql[i] == '.' || sql[i] == '_')) i++;
                tokens.Add(new Token(sql[start..i], null));
            }
            else
            {
                i++;
                tokens.Add(new Token(sql[start..i], null));
            }
        }
        return tokens;
    }

    private static bool PrecededByIdentifierChar(string sql, int i) => i > 0 && (char.IsLetterOrDigit(sql[i - 1]) || sql[i - 1] == '_');

    private static bool TryDollarQuote(string sql, int start, out int end)
    {
        end = start;
        var tagEnd = start + 1;
        while (tagEnd < sql.Length && (char.IsLetterOrDigit(sql[tagEnd]) || sql[tagEnd] == '_')) tagEnd++;
        if (tagEnd >= sql.Length || sql[tagEnd] != '$' || (tagEnd > start + 1 && char.IsDigit(sql[start + 1]))) return false;
        var tag = sql[start..(tagEnd + 1)];
        var close = sql.IndexOf(tag, tagEnd + 1, StringComparison.Ordinal);
        end = close < 0 ? sql.Length : close + tag.Length;
        return true;
    }
}
