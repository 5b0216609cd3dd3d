using Npgsql;
using Sync.Engine.Diagnostics;
using Sync.Engine.Stream;
using Sync.Engine.Tasks;

namespace Sync.Engine.Apply;

/// <summary>
/// Applies source transactions in commit order. Several source transactions share one destination transaction
/// (bounded by count, size and time); statements go in batches; the checkpoint commits with the changes it covers.
/// Conflicts are resolved by the task's policy and every one becomes an event once its group has committed.
/// </summary>
public sealed class ChangeApplier(NpgsqlConnection connection, Checkpoint checkpoint, string taskName, TimeProvider clock)
{
    public const int MaxBatch = 256;
    public const int MaxGroupTransactions = 2000;
    public const int MaxGroupChanges = 50_000;
    public static readonly TimeSpan MaxGroupAge = TimeSpan.FromMilliseconds(250);

    private readonly List<ApplyStatement> _pending = [];
    private readonly List<TaskEvent> _conflicts = [];
    private NpgsqlTransaction? _transaction;
    private long _groupStarted;
    private int _groupTransactions;
    private int _groupChanges;
    private bool _hasUncommittedSource;

    /// <summary>End of the last source transaction applied in the open group (or committed).</summary>
    public SyncLsn LastEnd { get; private set; }
    public DateTimeOffset LastCommitTime { get; private set; }
    /// <summary>End of the last source transaction durably committed on the destination.</summary>
    public SyncLsn Committed { get; private set; }
    public long AppliedTransactions { get; private set; }
    public long AppliedRows { get; private set; }
    public bool GroupOpen => _transaction is not null;

    public void Resume(SyncLsn checkpointLsn)
    {
        LastEnd = checkpointLsn;
        Committed = checkpointLsn;
    }

    public async Task BeginSourceTransactionAsync(CancellationToken ct)
    {
        if (_transaction is null)
        {
            _transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            _groupStarted = clock.GetTimestamp();
            _groupTransactions = 0;
            _groupChanges = 0;
        }
        _hasUncommittedSource = true;
    }

    public async Task AddAsync(ApplyStatement statement, CancellationToken ct)
    {
        _pending.Add(statement);
        _groupChanges++;
        if (_pending.Count >= MaxBatch) await FlushAsync(ct).ConfigureAwait(false);
    }

    public async Task TruncateAsync(IReadOnlyList<ApplyTable> tables, bool cascade, bool restartIdentity, CancellationToken ct)
    {
        await FlushAsync(ct).ConfigureAwait(false);
        var sql = $"TRUNCATE ONLY {string.Join(", ", tables.Select(t => t.Target))}{(restartIdentity ? " RESTART IDENTITY" : "")}{(cascade ? " CASCADE" : "")}";
        await using var command = new NpgsqlCommand(sql, connection, _transaction);
        await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public void EndSourceTransaction(CommitEvent commit)
    {
        LastEnd = commit.EndLsn;
        LastCommitTime = commit.CommitTime;
        _groupTransactions++;
        _hasUncommittedSource = false;
        AppliedTransactions++;
    }

    /// <summary>True when the open group should commit now: it is full, old, or the stream has nothing more right now.</summary>
    public bool ShouldCommit(bool streamIdle) =>
        _transaction is not null && !_hasUncommittedSource &&
        (streamIdle || _groupTransactions >= MaxGroupTransactions || _groupChanges >= MaxGroupChanges || clock.GetElapsedTime(_groupStarted) >= MaxGroupAge);

    public async Task CommitGroupAsync(Action<IReadOnlyList<TaskEvent>> onConflicts, CancellationToken ct)
    {
        if (_transaction is null) return;
        await FlushAsync(ct).ConfigureAwait(false);
        if (_groupTransactions > 0) await checkpoint.RecordAsync(connection, LastEnd, LastCommitTime, ct).ConfigureAwait(false);
        await _transaction.CommitAsync(ct).ConfigureAwait(false);
        await _transaction.DisposeAsync().ConfigureAwait(false);
        _transaction = null;
        Committed = LastEnd;
        if (_conflicts.Count > 0)
        {
            onConflicts(_conflicts.ToArray());
            _conflicts.Clear();
        }
    }

    public async Task RollbackAsync()
    {
        _pending.Clear();
        _conflicts.Clear();
        if (_transaction is null) return;
        try { await _transaction.RollbackAsync().ConfigureAwait(false); }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException) { }
        await _transaction.DisposeAsync().ConfigureAwait(false);
        _transaction = null;
        LastEnd = Committed;
    }

    public async Task FlushAsync(CancellationToken ct)
    {
        if (_pending.Count == 0) return;
        var statements = _pending.ToArray();
        _pending.Clear();
        await using var batch = new NpgsqlBatch(connection, _transaction);
        foreach (var statement in statements) batch.BatchCommands.Add(statement.ToBatchCommand());
        var rows = new List<List<object?>>(statements.Length);
        try
        {
            await using var reader = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false);
            do
            {
                var result = new List<object?>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false)) result.Add(reader.GetValue(0));
                rows.Add(result);
            } while (await reader.NextResultAsync(ct).ConfigureAwait(false));
        }
        catch (PostgresException e) when (e.SqlState == "23505")
        {
            throw await ConflictFailureAsync(FailedStatement(e, batch, statements, rows.Count), e, ct).ConfigureAwait(false);
        }
        catch (PostgresException e)
        {
            var statement = FailedStatement(e, batch, statements, rows.Count);
            var info = ErrorClassifier.ClassifySqlState(e.SqlState, ErrorClassifier.Describe(e), statement.Table.Table.Destination.ToString());
            throw new SyncException(info.Retriable ? info.ErrorId : ErrorIds.ApplyFailed, info.Category,
                $"Applying a change to {statement.Table.Table.Destination} (key {statement.Key}) failed: {info.Message}",
                statement.Table.Table.Destination.ToString(), info.Retriable, e, e.SqlState);
        }
        var corrections = new List<ApplyStatement>();
        for (var i = 0; i < statements.Length; i++)
        {
            var statement = statements[i];
            var result = i < rows.Count ? rows[i] : [];
            AppliedRows++;
            if (statement.Meaning == StatementMeaning.Update && result.Count == 0)
            {
                // The row is missing: it becomes an INSERT, unless a later statement of this batch decides that row.
                var decidedLater = statements.Skip(i + 1).Any(later => later.TouchedKeys.Any(statement.TouchedKeys.Contains));
                if (!decidedLater && statement.Correction is { } insert) corrections.Add(insert);
                _conflicts.Add(ConflictEvent(statement, "UpdateMissing", decidedLater ? "left to a later change of the same row" : "inserted the source row"));
                continue;
            }
            var conflict = statement.Meaning switch
            {
                StatementMeaning.InsertOrKeep when result.Count == 0 => ("InsertExists", "kept the destination row (policy Ignore)"),
                StatementMeaning.InsertOrOverwrite when result.Count == 1 && result[0] is false => ("InsertExists", "wrote the source row over it (policy Overwrite)"),
                StatementMeaning.Delete when result.Count == 0 => ("DeleteMissing", "ignored"),
                _ => default,
            };
            if (conflict.Item1 is not null) _conflicts.Add(ConflictEvent(statement, conflict.Item1, conflict.Item2));
        }
        if (corrections.Count > 0)
        {
            AppliedRows -= corrections.Count;
            _pending.AddRange(corrections);
            await FlushAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>The statement that raised an error: the driver names it, else it is the first without a complete result.</summary>
    private static ApplyStatement FailedStatement(PostgresException e, NpgsqlBatch batch, ApplyStatement[] statements, int completed)
    {
        var index = e.BatchCommand is { } failed ? batch.BatchCommands.IndexOf(failed) : -1;
        return statements[index >= 0 ? index : Math.Min(completed, statements.Length - 1)];
    }

    private TaskEvent ConflictEvent(ApplyStatement statement, string kind, string resolution) => new()
    {
        Time = clock.GetUtcNow(), Kind = SyncEventKind.Conflict, Level = SyncEventLevel.Warning,
        Message = $"Conflict on {statement.Table.Table.Destination}: {kind} for key {statement.Key}; {resolution}.",
        Data = new Dictionary<string, string>
        {
            ["table"] = statement.Table.Table.Destination.ToString(), ["key"] = statement.Key, ["kind"] = kind, ["resolution"] = resolution,
        },
    };

    private async Task<SyncException> ConflictFailureAsync(ApplyStatement statement, PostgresException error, CancellationToken ct)
    {
        await RollbackAsync().ConfigureAwait(false);
        string? existing = null;
        var table = statement.Table;
        if (statement.NewRow is { } row && table.KeyIndexes.Length > 0)
        {
            try
            {
                var conditions = table.KeyIndexes.Select((k, n) => $"{table.DestinationColumns[k]} = ${n + 1}::{table.Types[k]}");
                await using var lookup = new NpgsqlCommand($"SELECT row_to_json(t)::text FROM {table.Target} t WHERE {string.Join(" AND ", conditions)}", connection);
                foreach (var k in table.KeyIndexes)
                    lookup.Parameters.Add(new NpgsqlParameter { Value = (object?)row[k] ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Unknown });
                existing = await lookup.ExecuteScalarAsync(ct).ConfigureAwait(false) as string;
            }
            catch (PostgresException) { }
        }
        var source = statement.NewRow is null ? "(none)" : "(" + string.Join(", ", statement.NewRow.Select((v, i) => $"{table.Relation.Columns[i]}={v ?? "NULL"}")) + ")";
        return new SyncException(ErrorIds.ApplyConflict, SyncErrorCategory.ResourceExists,
            $"Task '{taskName}' stopped on a conflict in {table.Table.Destination}: the source inserted key {statement.Key}, which the destination already has. " +
            $"Source row: {source}. Destination row: {existing ?? "(not readable)"}. The conflict policy is Fail; resolve the row, or set -ConflictPolicy Ignore or Overwrite, then start the task again. ({error.MessageText})",
            table.Table.Destination.ToString(), retriable: false, error, error.SqlState);
    }
}
