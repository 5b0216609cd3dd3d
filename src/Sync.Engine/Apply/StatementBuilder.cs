using System.Text;
using Sync.Engine.Stream;

namespace Sync.Engine.Apply;

/// <summary>
/// Builds the destination statement of a change. Text values travel as untyped parameters with explicit casts to the
/// destination column types, exactly like literals, so every type (enums, arrays, composites, domains) reads the text
/// pgoutput produced; binary values travel typed as their source type (<see cref="ApplyTable.Bind"/>) through the same
/// casts, which convert where the destination column's type differs. Statements for the same table and column shape have the same text, so the driver
/// prepares them once. Tables without a key match rows on every old value and change exactly one row.
/// </summary>
public static class StatementBuilder
{
    /// <summary>The statement for a row change, or null when the table does not synchronize that operation.</summary>
    public static ApplyStatement? For(ApplyTable table, RowEvent change, ConflictPolicy policy) => change.Kind switch
    {
        RowChangeKind.Insert when table.Allows(TableOperations.Insert) => Insert(table, change, policy),
        RowChangeKind.Update when table.Allows(TableOperations.Update) => Update(table, change, policy),
        RowChangeKind.Delete when table.Allows(TableOperations.Delete) => Delete(table, change),
        _ => null,
    };

    /// <summary>The tables of a TRUNCATE that the task applies: carried, allowing DDL, and copied before this transaction.</summary>
    public static List<ApplyTable> Truncated(TruncateEvent truncate, IReadOnlyDictionary<uint, ApplyTable?> relations, SyncLsn commitLsn) =>
        truncate.RelationIds.Select(id => relations.GetValueOrDefault(id))
            .Where(t => t is not null && t.Allows(TableOperations.Ddl) && commitLsn >= t.SnapshotLsn).Select(t => t!).ToList();

    public static ApplyStatement Insert(ApplyTable table, RowEvent change, ConflictPolicy policy)
    {
        var (columns, parameters) = Present(table, change.NewValues!, change.Unchanged);
        var shape = Shape('I', policy, columns, null);
        var meaning = MeaningOf(table, policy);
        if (!table.SqlCache.TryGetValue(shape, out var sql))
        {
            var text = new StringBuilder($"INSERT INTO {table.Target} ({string.Join(", ", columns.Select(c => table.DestinationColumns[c]))}){table.Overriding} VALUES (")
                .Append(string.Join(", ", columns.Select((c, i) => Param(i + 1, table.Types[c]!)))).Append(')');
            AppendConflict(text, table, columns, policy);
            sql = table.SqlCache.GetOrAdd(shape, text.ToString());
        }
        return new ApplyStatement(sql, parameters, table, meaning, change.NewValues, change.NewValues)
        {
            TouchedKeys = [Key(table, change.NewValues!)],
            ValueColumns = columns, Values = parameters, Policy = policy,
        };
    }

    /// <summary>
    /// A plain UPDATE that reports whether it found its row. A missing row becomes an INSERT (<see cref="ApplyStatement.Correction"/>),
    /// applied after the batch unless a later statement of the batch touches the same key (then that one decides the row).
    /// </summary>
    public static ApplyStatement Update(ApplyTable table, RowEvent change, ConflictPolicy policy)
    {
        var (present, _) = Present(table, change.NewValues!, change.Unchanged);
        // An identity column that is GENERATED ALWAYS may only be set to DEFAULT, so it is left out: the updated row keeps
        // its value (after a key change too, it is the same row). Only such an identity that the old row shows changed (a
        // key column, or any column under REPLICA IDENTITY FULL) stays in: the server refuses it and the task fails with
        // that error, rather than keep the old value unnoticed. Where the old row does not travel, a change cannot show.
        var keyChanged = change.OldValues is not null;
        var columns = table.Overriding.Length == 0 ? present
            : present.Where(c => !table.IdentityAlways[c] || keyChanged && table.KeyIndexes.Contains(c) && change.OldValues![c] != change.NewValues![c]).ToList();
        var parameters = new List<ColumnValue>(columns.Count + table.KeyIndexes.Length);
        foreach (var c in columns) parameters.Add(table.Bind(c, change.NewValues![c]));
        var keySource = change.OldValues ?? change.NewValues!;
        var fullMatch = change.OldValues is not null && change.OldIsFullRow || table.Relation.FullIdentity || table.KeyIndexes.Length == 0;
        var (whereParameters, whereShape) = MatchParameters(table, keySource, fullMatch);
        var shape = Shape('U', policy, columns, whereShape);
        if (!table.SqlCache.TryGetValue(shape, out var sql))
        {
            var set = string.Join(", ", columns.Select((c, i) => $"{table.DestinationColumns[c]} = {Param(i + 1, table.Types[c]!)}").DefaultIfEmpty("ctid = ctid"));
            var (where, _) = Match(table, keySource, fullMatch, columns.Count);
            sql = table.SqlCache.GetOrAdd(shape, $"UPDATE {table.Target} SET {set} WHERE {where} RETURNING 1");
        }
        parameters.AddRange(whereParameters);
        var whole = Completed(change);
        var oldKey = Key(table, keySource);
        var newKey = keyChanged ? Key(table, whole.NewValues!) : oldKey;
        return new ApplyStatement(sql, parameters, table, StatementMeaning.Update, keySource, whole.NewValues)
        {
            CorrectionFactory = () => Insert(table, whole with { Kind = RowChangeKind.Insert }, policy) with
            {
                LeftOut = whole.Unchanged is { } unknown ? unknown.Select((u, i) => u && table.DestinationColumns[i] is not null ? table.Relation.Columns[i] : null).OfType<string>().ToList() : [],
            },
            TouchedKeys = oldKey == newKey ? [oldKey] : [oldKey, newKey],
            ValueColumns = columns, Values = parameters.Take(columns.Count).ToArray(), Policy = policy,
            KeyColumns = fullMatch ? [] : table.KeyIndexes, KeyValues = fullMatch ? [] : table.KeyIndexes.Select(i => table.Bind(i, keySource[i])).ToArray(),
        };
    }

    /// <summary>
    /// The update's new row with its unchanged TOAST values taken from the old row, where the old row travels whole
    /// (REPLICA IDENTITY FULL: the server sends it with its out-of-line values read back). The new row is then the row
    /// the next change of it names as its old row, so the batch sees one row and not two, and an update whose row is
    /// missing inserts the value instead of leaving it out. The SET still leaves unchanged values alone. Where the old
    /// row is only the key, or does not travel, the unchanged values are not known and stay marked.
    /// </summary>
    private static RowEvent Completed(RowEvent change)
    {
        if (change.Unchanged is not { } unchanged || !change.OldIsFullRow || change.OldValues is not { } old || Array.IndexOf(unchanged, true) < 0) return change;
        var values = (ColumnValue[])change.NewValues!.Clone();
        var still = (bool[])unchanged.Clone();
        for (var i = 0; i < values.Length && i < old.Length; i++)
        {
            if (!unchanged[i]) continue;
            values[i] = old[i];
            still[i] = false;
        }
        return change with { NewValues = values, Unchanged = still };
    }

    /// <summary>
    /// The identity of a row within its table, for matching statements of one batch (key values, or the whole row without
    /// a key). Each value is written with its length (<see cref="ColumnValue.AppendIdentity"/>), so two rows are one only
    /// when their values are: a separator alone would let ('a|b', 'c') and ('a', 'b|c') meet, and the applier would then
    /// drop one row's update as superseded by the other's.
    /// </summary>
    public static string Key(ApplyTable table, ColumnValue[] values)
    {
        var sb = new StringBuilder().Append(table.Relation.RelationId).Append('/');
        if (table.KeyIndexes.Length > 0 && !table.Relation.FullIdentity)
            foreach (var i in table.KeyIndexes) values[i].AppendIdentity(sb);
        else
            foreach (var v in values) v.AppendIdentity(sb);
        return sb.ToString();
    }

    public static ApplyStatement Delete(ApplyTable table, RowEvent change)
    {
        var fullMatch = change.OldIsFullRow || table.Relation.FullIdentity || table.KeyIndexes.Length == 0;
        var (parameters, whereShape) = MatchParameters(table, change.OldValues!, fullMatch);
        var shape = Shape('D', ConflictPolicy.Fail, [], whereShape);
        if (!table.SqlCache.TryGetValue(shape, out var sql))
        {
            var (where, _) = Match(table, change.OldValues!, fullMatch, 0);
            sql = table.SqlCache.GetOrAdd(shape, $"DELETE FROM {table.Target} WHERE {where} RETURNING 1");
        }
        return new ApplyStatement(sql, parameters, table, StatementMeaning.Delete, change.OldValues, null)
        {
            TouchedKeys = [Key(table, change.OldValues!)],
            KeyColumns = fullMatch ? [] : table.KeyIndexes, KeyValues = fullMatch ? [] : table.KeyIndexes.Select(i => table.Bind(i, change.OldValues![i])).ToArray(),
        };
    }

    private static StatementMeaning MeaningOf(ApplyTable table, ConflictPolicy policy) => policy switch
    {
        ConflictPolicy.Ignore => StatementMeaning.InsertOrKeep,
        ConflictPolicy.Overwrite when table.ConflictKey is not null => StatementMeaning.InsertOrOverwrite,
        _ => StatementMeaning.Insert,
    };

    private static string Shape(char kind, ConflictPolicy policy, List<int> columns, string? where)
    {
        var sb = new StringBuilder().Append(kind).Append((int)policy).Append(':');
        foreach (var c in columns) sb.Append(c).Append(',');
        return sb.Append('|').Append(where).ToString();
    }

    /// <summary>The WHERE parameters of <see cref="Match"/> (same order) and a shape key for its text (NULLs change it).</summary>
    private static (List<ColumnValue> Parameters, string Shape) MatchParameters(ApplyTable table, ColumnValue[] values, bool fullRow)
    {
        var parameters = new List<ColumnValue>();
        if (!fullRow && table.KeyIndexes.Length > 0 && !table.Relation.FullIdentity)
        {
            foreach (var i in table.KeyIndexes) parameters.Add(table.Bind(i, values[i]));
            return (parameters, "k");
        }
        var shape = new StringBuilder("f");
        for (var i = 0; i < values.Length; i++)
        {
            if (table.DestinationColumns[i] is null) continue;
            if (values[i].IsNull) shape.Append(i).Append('n');
            else parameters.Add(table.Bind(i, values[i]));
        }
        return (parameters, shape.ToString());
    }

    /// <summary>The columns a change carries (known to the task, not unchanged TOAST) and their values in order.</summary>
    private static (List<int> Columns, List<ColumnValue> Values) Present(ApplyTable table, ColumnValue[] values, bool[]? unchanged)
    {
        var columns = new List<int>();
        var parameters = new List<ColumnValue>();
        for (var i = 0; i < values.Length; i++)
        {
            if (table.DestinationColumns[i] is null || (unchanged is not null && unchanged[i])) continue;
            columns.Add(i);
            parameters.Add(table.Bind(i, values[i]));
        }
        return (columns, parameters);
    }

    /// <summary>
    /// WHERE clause finding the row: by key when the relation has one, else (REPLICA IDENTITY FULL) the one row whose
    /// every value matches, compared as text in this session so types without equality operators work too.
    /// </summary>
    private static (string Where, List<ColumnValue> Parameters) Match(ApplyTable table, ColumnValue[] values, bool fullRow, int offset)
    {
        var parameters = new List<ColumnValue>();
        if (!fullRow && table.KeyIndexes.Length > 0 && !table.Relation.FullIdentity)
        {
            var conditions = table.KeyIndexes.Select(i =>
            {
                parameters.Add(values[i]);
                return $"{table.DestinationColumns[i]} = {Param(offset + parameters.Count, table.Types[i]!)}";
            });
            return (string.Join(" AND ", conditions.ToList()), parameters);
        }
        var matches = new List<string>();
        for (var i = 0; i < values.Length; i++)
        {
            if (table.DestinationColumns[i] is null) continue;
            if (values[i].IsNull) { matches.Add($"{table.DestinationColumns[i]} IS NULL"); continue; }
            parameters.Add(values[i]);
            matches.Add($"{table.DestinationColumns[i]}::text = ({Param(offset + parameters.Count, table.Types[i]!)})::text");
        }
        var condition = matches.Count == 0 ? "true" : string.Join(" AND ", matches);
        return ($"ctid = (SELECT ctid FROM {table.Target} WHERE {condition} LIMIT 1)", parameters);
    }

    private static StatementMeaning AppendConflict(StringBuilder sql, ApplyTable table, List<int> columns, ConflictPolicy policy, string returning = "RETURNING 1")
    {
        switch (policy)
        {
            case ConflictPolicy.Ignore:
                sql.Append(" ON CONFLICT DO NOTHING ").Append(returning);
                return StatementMeaning.InsertOrKeep;
            case ConflictPolicy.Overwrite when table.ConflictKey is not null:
                var updates = columns.Select(c => $"{table.DestinationColumns[c]} = EXCLUDED.{table.DestinationColumns[c]}").ToList();
                sql.Append($" ON CONFLICT ({table.ConflictKey}) DO UPDATE SET ").Append(string.Join(", ", updates));
                sql.Append(returning == "RETURNING 1" ? " RETURNING (xmax = 0)" : " " + returning);
                return StatementMeaning.InsertOrOverwrite;
            default:
                sql.Append(' ').Append(returning);
                return StatementMeaning.Insert;
        }
    }

    private static string Param(int index, string type) => $"${index}::{type}";
}
