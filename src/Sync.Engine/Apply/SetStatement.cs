using System.Text;
using Npgsql;
using NpgsqlTypes;
using Sync.Engine.Stream;

namespace Sync.Engine.Apply;

/// <summary>
/// Many row changes of one shape (same table, kind and columns) as one statement over arrays: one bind and one
/// executor run instead of one per row, which is what makes the apply keep up with a busy source. Each column of text
/// values travels as a text[] and is cast to its destination type per element, exactly as the row statements do; a
/// column of binary values travels as an array of its type (<see cref="BinaryParameters.Array"/>; array columns never
/// come in binary, <see cref="StreamFormat"/>), and the same cast converts only where the destination column's type differs. The statement
/// returns the ordinals of the members that found (or inserted) their row, so the result of each member is known
/// as if it had run alone.
/// </summary>
public sealed class SetStatement
{
    private SetStatement(IReadOnlyList<ApplyStatement> members, NpgsqlBatchCommand command)
    {
        Members = members;
        Command = command;
    }

    public IReadOnlyList<ApplyStatement> Members { get; }
    public NpgsqlBatchCommand Command { get; }

    public static SetStatement Build(IReadOnlyList<ApplyStatement> members)
    {
        var first = members[0];
        var table = first.Table;
        var parameters = new List<NpgsqlParameter>();
        string Column(int relationIndex) => table.DestinationColumns[relationIndex]!;
        string Type(int relationIndex) => table.Types[relationIndex]!;
        string AddArray(int relationIndex, Func<ApplyStatement, ColumnValue> value)
        {
            var values = members.Select(value).ToArray();
            if (BinaryParameters.IsBinaryColumn(values))
            {
                parameters.Add(BinaryParameters.Array(values, table.BinaryArrayTypes[relationIndex]));
                return $"${parameters.Count}";
            }
            parameters.Add(new NpgsqlParameter { Value = values.Select(v => v.Text).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            return $"${parameters.Count}::text[]";
        }

        var sql = new StringBuilder();
        switch (first.Meaning)
        {
            case StatementMeaning.Update:
            {
                var values = first.ValueColumns.Select((c, i) => AddArray(c, m => m.Values[i])).ToList();
                var keys = first.KeyColumns.Select((c, i) => AddArray(c, m => m.KeyValues[i])).ToList();
                var names = Enumerable.Range(0, values.Count).Select(i => $"p{i}").Concat(Enumerable.Range(0, keys.Count).Select(i => $"k{i}")).ToList();
                var set = first.ValueColumns.Select((c, i) => $"{Column(c)} = v.p{i}::{Type(c)}").DefaultIfEmpty("ctid = t.ctid");
                sql.Append($"UPDATE {table.Target} t SET {string.Join(", ", set)} FROM unnest({string.Join(", ", values.Concat(keys))}) WITH ORDINALITY AS v({string.Join(", ", names)}, ord) WHERE ")
                    .Append(string.Join(" AND ", first.KeyColumns.Select((c, i) => $"t.{Column(c)} = v.k{i}::{Type(c)}")))
                    .Append(" RETURNING v.ord");
                break;
            }
            case StatementMeaning.Delete:
            {
                var keys = first.KeyColumns.Select((c, i) => AddArray(c, m => m.KeyValues[i])).ToList();
                sql.Append($"DELETE FROM {table.Target} t USING unnest({string.Join(", ", keys)}) WITH ORDINALITY AS v({string.Join(", ", keys.Select((_, i) => $"k{i}"))}, ord) WHERE ")
                    .Append(string.Join(" AND ", first.KeyColumns.Select((c, i) => $"t.{Column(c)} = v.k{i}::{Type(c)}")))
                    .Append(" RETURNING v.ord");
                break;
            }
            case StatementMeaning.Insert:
            {
                var values = first.ValueColumns.Select((c, i) => AddArray(c, m => m.Values[i])).ToList();
                sql.Append($"INSERT INTO {table.Target} ({string.Join(", ", first.ValueColumns.Select(Column))}){table.Overriding} ")
                    .Append($"SELECT {string.Join(", ", first.ValueColumns.Select((c, i) => $"v.p{i}::{Type(c)}"))} ")
                    .Append($"FROM unnest({string.Join(", ", values)}) WITH ORDINALITY AS v({string.Join(", ", values.Select((_, i) => $"p{i}"))}, ord) ORDER BY v.ord")
                    // Every statement of a batch returns rows, so that results line up with commands.
                    .Append(" RETURNING 1");
                break;
            }
            default:
            {
                var values = first.ValueColumns.Select((c, i) => AddArray(c, m => m.Values[i])).ToList();
                var names = Enumerable.Range(0, values.Count).Select(i => $"p{i}").ToList();
                var columns = string.Join(", ", first.ValueColumns.Select(Column));
                var casts = string.Join(", ", first.ValueColumns.Select((c, i) => $"v.p{i}::{Type(c)}"));
                var keys = table.KeyIndexes.Select(k => (Column: Column(k), Value: $"v.p{first.ValueColumns.ToList().IndexOf(k)}::{Type(k)}")).ToList();
                sql.Append($"WITH v AS (SELECT * FROM unnest({string.Join(", ", values)}) WITH ORDINALITY AS v({string.Join(", ", names)}, ord)), ")
                    .Append($"i AS (INSERT INTO {table.Target} ({columns}){table.Overriding} SELECT {casts} FROM v ORDER BY v.ord");
                switch (first.Meaning)
                {
                    case StatementMeaning.InsertOrKeep:
                        sql.Append(" ON CONFLICT DO NOTHING");
                        break;
                    case StatementMeaning.InsertOrOverwrite:
                        sql.Append($" ON CONFLICT ({table.ConflictKey}) DO UPDATE SET ")
                            .Append(string.Join(", ", first.ValueColumns.Select(c => $"{Column(c)} = EXCLUDED.{Column(c)}")));
                        break;
                }
                sql.Append($" RETURNING {string.Join(", ", keys.Select(k => k.Column))}{(first.Meaning == StatementMeaning.InsertOrOverwrite ? ", (xmax = 0) AS inserted" : "")}) ")
                    .Append($"SELECT v.ord{(first.Meaning == StatementMeaning.InsertOrOverwrite ? ", i.inserted" : "")} FROM v JOIN i ON ")
                    .Append(string.Join(" AND ", keys.Select(k => $"i.{k.Column} = {k.Value}")));
                break;
            }
        }
        var command = new NpgsqlBatchCommand(sql.ToString());
        foreach (var array in parameters) command.Parameters.Add(array);
        return new SetStatement(members, command);
    }

    /// <summary>What each member would have returned alone, from the rows of this statement.</summary>
    public IEnumerable<(ApplyStatement Member, List<object?> Result)> Distribute(IReadOnlyList<object?[]> rows)
    {
        var byOrdinal = Members[0].Meaning == StatementMeaning.Insert
            ? new Dictionary<long, object?[]>()
            : rows.ToDictionary(r => Convert.ToInt64(r[0], System.Globalization.CultureInfo.InvariantCulture), r => r);
        for (var i = 0; i < Members.Count; i++)
        {
            var member = Members[i];
            var found = byOrdinal.TryGetValue(i + 1, out var row);
            yield return (member, member.Meaning switch
            {
                StatementMeaning.InsertOrOverwrite => found ? [row![1]] : [],
                StatementMeaning.Insert => [1],
                _ => found ? [1] : [],
            });
        }
    }
}
