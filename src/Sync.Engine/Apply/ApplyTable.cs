using Sync.Engine.Catalog;
using Sync.Engine.Diagnostics;
using Sync.Engine.Schema;
using Sync.Engine.Stream;

namespace Sync.Engine.Apply;

/// <summary>
/// How a source relation of the stream lands on the destination: for each column of the relation message, the
/// destination column and its type (for explicit casts), or null when the task does not carry it, and the type a binary
/// value of it is sent as.
/// </summary>
public sealed class ApplyTable
{
    public ApplyTable(RelationEvent relation, ScopedTable table, TaskScope scope, SyncLsn snapshotLsn, DestinationTypes types)
    {
        Relation = relation;
        Table = table;
        SnapshotLsn = snapshotLsn;
        var columns = table.Columns.ToDictionary(c => c.Name, StringComparer.Ordinal);
        DestinationColumns = new string?[relation.Columns.Count];
        Types = new string?[relation.Columns.Count];
        IdentityAlways = new bool[relation.Columns.Count];
        BinaryTypes = new uint[relation.Columns.Count];
        BinaryArrayTypes = new uint[relation.Columns.Count];
        Labels = new bool[relation.Columns.Count];
        UnknownEnums = new bool[relation.Columns.Count];
        for (var i = 0; i < relation.Columns.Count; i++)
        {
            if (!columns.TryGetValue(relation.Columns[i], out var column) || column.Generated is not null) continue;
            DestinationColumns[i] = Identifier.Quote(table.DestinationColumn(column.Name));
            Types[i] = SchemaBuilder.ColumnType(scope, column);
            IdentityAlways[i] = column.Identity == "a";
            // A column whose type changed since the catalog was read is not known well enough to send its binary form.
            var typeUnchanged = i >= relation.TypeOids.Count || relation.TypeOids[i] == column.TypeOid;
            if (typeUnchanged && StreamFormat.BinaryType(column, types) is { } binary) (BinaryTypes[i], BinaryArrayTypes[i]) = binary;
            Labels[i] = column.IsEnum;
            UnknownEnums[i] = typeUnchanged && column is { IsEnum: true, IsArray: false, NeedsTextCopy: false } && BinaryTypes[i] == 0;
        }
        Overriding = IdentityAlways.Any(x => x) ? " OVERRIDING SYSTEM VALUE" : "";
        var primaryKey = table.Source.PrimaryKey?.Columns;
        ConflictKey = primaryKey is { Count: > 0 } && primaryKey.All(table.ColumnNames.ContainsKey)
            ? string.Join(", ", primaryKey.Select(k => Identifier.Quote(table.DestinationColumn(k))))
            : null;
        KeyIndexes = Enumerable.Range(0, relation.Columns.Count).Where(i => relation.KeyColumns[i] && DestinationColumns[i] is not null).ToArray();
    }

    public RelationEvent Relation { get; }
    public ScopedTable Table { get; }
    /// <summary>
    /// Changes committed before this position are already in the table's copy. The stream moves it while a table sync
    /// copies the table again (frozen: nothing applies) and when it hands the table back.
    /// </summary>
    public SyncLsn SnapshotLsn { get; set; }
    public string?[] DestinationColumns { get; }
    public string?[] Types { get; }
    /// <summary>
    /// For each carried column: the type its binary values are sent as (the column's built-in type, or a domain's built-in
    /// base type, whose OID is the same on every server), or 0 when its binary form cannot travel (<see cref="StreamFormat"/>).
    /// </summary>
    public uint[] BinaryTypes { get; }
    /// <summary>For each carried column: the array type of <see cref="BinaryTypes"/> where the driver does not know it (an enum's), else 0.</summary>
    public uint[] BinaryArrayTypes { get; }
    /// <summary>Enum columns, whose binary form is the label's text.</summary>
    private bool[] Labels { get; }
    /// <summary>Enum columns whose enum the stream did not look up on the destination when it started (their table joined the stream since).</summary>
    private bool[] UnknownEnums { get; }
    /// <summary>GENERATED ALWAYS identity columns: inserts carry the source's value with OVERRIDING SYSTEM VALUE.</summary>
    public bool[] IdentityAlways { get; }
    public string Overriding { get; }
    /// <summary>Relation columns that form the replica identity (and that the task carries).</summary>
    public int[] KeyIndexes { get; }
    /// <summary>Destination primary key columns for ON CONFLICT, when the table has one.</summary>
    public string? ConflictKey { get; }
    public string Target => Table.Destination.Sql;

    /// <summary>
    /// Changes can be applied many rows per statement: the table has a primary key that is also the replica identity,
    /// so rows are found by key and matched back to the changes by key.
    /// </summary>
    public bool SetCapable => ConflictKey is not null && !Relation.FullIdentity && KeyIndexes.Length > 0 &&
        KeyIndexes.Select(i => Relation.Columns[i]).SequenceEqual(Table.Source.PrimaryKey!.Columns);

    public bool Allows(TableOperations operation) => (Table.Operations & operation) != 0;

    /// <summary>
    /// Statement text by shape (kind, policy, columns): built once per shape, not once per row. Concurrent: a pipelined
    /// applier builds the inserts for missing rows beside the apply loop (<see cref="ChangeApplier.Pipelined"/>), and the
    /// first text stored for a shape is the one both use (set-wise apply groups statements by their text's identity).
    /// </summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, string> SqlCache { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The value of relation column <paramref name="column"/>, ready to send: a binary value learns the type it is read
    /// as. A binary value of a column whose binary form cannot travel ends the stream's attempt, which starts again in
    /// text format (<see cref="StreamFormat.TextRestart"/>).
    /// </summary>
    public ColumnValue Bind(int column, ColumnValue value)
    {
        if (!value.IsBinary) return value;
        var type = BinaryTypes[column];
        if (type != 0) return value.WithType(type);
        // An enum the stream did not look up when it started: the next start looks it up (and streams in text if the
        // destination has none of that name), so this restart does not keep the stream in text.
        if (UnknownEnums[column])
            throw new SyncException(ErrorIds.StreamOutOfStep, SyncErrorCategory.InvalidData,
                $"The stream restarts to look up the destination's enum for column {Relation.Columns[column]} of {Table.Name} (type {Table.Columns.First(c => c.Name == Relation.Columns[column]).TypeText}), which joined the stream after it started.",
                Table.Name.ToString(), retriable: true);
        var why = $"column {Relation.Columns[column]} of {Table.Name} (type {Table.Columns.FirstOrDefault(c => c.Name == Relation.Columns[column])?.TypeText ?? "changed on the source"}) came in binary form, which cannot be sent to the destination by type";
        throw StreamFormat.TextRestart(why, Table.Name.ToString());
    }

    /// <summary>A readable value of relation column <paramref name="column"/>, for events and errors.</summary>
    public string Describe(int column, ColumnValue value)
    {
        if (!value.IsBinary) return value.ToString();
        if (Labels[column]) return System.Text.Encoding.UTF8.GetString(value.Binary!);
        // A column that cannot be bound is described by the type the source named for it.
        var type = BinaryTypes[column] != 0 ? BinaryTypes[column] : Relation.TypeOids.ElementAtOrDefault(column);
        return value.WithType(type).ToString();
    }

    /// <summary>A short description of the key of a row, for conflict events and errors.</summary>
    public string DescribeKey(ColumnValue[]? values)
    {
        if (values is null) return "(no key)";
        var indexes = KeyIndexes.Length > 0 && !Relation.FullIdentity ? KeyIndexes : Enumerable.Range(0, values.Length).Where(i => DestinationColumns[i] is not null).ToArray();
        return "(" + string.Join(", ", indexes.Select(i => $"{Relation.Columns[i]}={Describe(i, values[i])}")) + ")";
    }
}
