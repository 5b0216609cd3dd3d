using Npgsql;
using Sync.Engine.Stream;

namespace Sync.Engine.Apply;

/// <summary>
/// One destination statement for one source change. Every statement returns rows so that results line up with
/// commands in a batch; what a returned row means depends on <see cref="Meaning"/>. Parameters are bound to their
/// columns (<see cref="ApplyTable.Bind"/>); the row images are as the stream sent them.
/// </summary>
public sealed record ApplyStatement(string Sql, IReadOnlyList<ColumnValue> Parameters, ApplyTable Table, StatementMeaning Meaning, ColumnValue[]? KeySource, ColumnValue[]? NewRow)
{
    private ApplyStatement? _correction;

    /// <summary>The row's key for events and errors, as column=value pairs (built only when needed).</summary>
    public string Key => Table.DescribeKey(KeySource);

    /// <summary>For an UPDATE: builds the INSERT that replaces it when the row turns out to be missing.</summary>
    public Func<ApplyStatement>? CorrectionFactory { get; init; }

    public ApplyStatement? Correction => _correction ??= CorrectionFactory?.Invoke();

    /// <summary>On a <see cref="Correction"/> that is applied: the update whose missing row it inserts, which its result is reported for.</summary>
    public ApplyStatement? CorrectionOf { get; init; }

    /// <summary>
    /// On an update's <see cref="Correction"/>: the columns (source names) it leaves out because the source sent their
    /// values as unchanged TOAST and the old row did not carry them (a table with a key). The inserted row lacks them.
    /// </summary>
    public IReadOnlyList<string> LeftOut { get; init; } = [];

    /// <summary>Keys (old and new) this statement touches, to tell whether a later statement of the batch overrides it.</summary>
    public IReadOnlyList<string> TouchedKeys { get; init; } = [];

    /// <summary>Relation columns whose values the statement writes (INSERT values, UPDATE SET list), in parameter order.</summary>
    public IReadOnlyList<int> ValueColumns { get; init; } = [];
    public IReadOnlyList<ColumnValue> Values { get; init; } = [];
    /// <summary>Relation columns and values that find the row (UPDATE and DELETE by key).</summary>
    public IReadOnlyList<int> KeyColumns { get; init; } = [];
    public IReadOnlyList<ColumnValue> KeyValues { get; init; } = [];
    public ConflictPolicy Policy { get; init; }

    /// <summary>Statements of one shape (same SQL text) can be applied as one set-wise statement.</summary>
    public bool SetCapable => Meaning switch
    {
        StatementMeaning.Update or StatementMeaning.Delete => Table.SetCapable && KeyColumns.Count > 0,
        // A plain insert needs no key to report its result: it either inserts or fails.
        StatementMeaning.Insert => true,
        _ => Table.SetCapable && Table.KeyIndexes.All(ValueColumns.Contains),
    };

    public NpgsqlBatchCommand ToBatchCommand()
    {
        var command = new NpgsqlBatchCommand(Sql);
        foreach (var value in Parameters) command.Parameters.Add(BinaryParameters.For(value));
        return command;
    }
}

/// <summary>What the rows a statement returns say about conflicts.</summary>
public enum StatementMeaning
{
    /// <summary>A row means the insert happened; none means the key existed and was kept (Ignore).</summary>
    InsertOrKeep,
    /// <summary>The row says true when inserted, false when an existing row was overwritten.</summary>
    InsertOrOverwrite,
    /// <summary>Plain insert: a duplicate key raises an error (Fail).</summary>
    Insert,
    /// <summary>A row means the update found its row; none means the row is missing and <see cref="ApplyStatement.Correction"/> applies.</summary>
    Update,
    /// <summary>A row means a row was deleted; none means it was already missing.</summary>
    Delete,
}
