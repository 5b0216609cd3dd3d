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
    public const int MaxBatch = 1000;
    public const int MaxGroupTransactions = 2000;
    public const int MaxGroupChanges = 50_000;
    public static readonly TimeSpan MaxGroupAge = TimeSpan.FromMilliseconds(250);

    private readonly List<ApplyStatement> _pending = [];
    private readonly List<TaskEvent> _conflicts = [];
    /// <summary>A destination transaction is open for the group (it may not have reached the server yet).</summary>
    private bool _groupOpen;
    /// <summary>The group's BEGIN has gone out: it travels with the group's first statements, in their round trip.</summary>
    private bool _begun;
    private long _groupStarted;
    private int _groupTransactions;
    private int _groupChanges;
    private bool _hasUncommittedSource;
    /// <summary>A batch sent and not yet awaited (<see cref="Pipelined"/>): its results are read while the next one is built.</summary>
    private Task? _inFlight;

    /// <summary>End of the last source transaction applied in the open group (or committed).</summary>
    public SyncLsn LastEnd { get; private set; }
    public DateTimeOffset LastCommitTime { get; private set; }
    /// <summary>End of the last source transaction committed on the destination (visible there; on disk only once <see cref="Durable"/> has reached it).</summary>
    public SyncLsn Committed { get; private set; }

    /// <summary>
    /// End of the last source transaction whose destination commit is on disk: the most the source may be told is done
    /// (its slot then lets go of the WAL before it). Equal to <see cref="Committed"/> unless <see cref="AsyncCommit"/>.
    /// </summary>
    public SyncLsn Durable { get; private set; }

    /// <summary>
    /// Groups commit without waiting for the destination's disk (the session runs with synchronous_commit = off, as
    /// PostgreSQL's own apply worker does); what is on disk is asked of the task's replication origin at most every
    /// <see cref="DurableInterval"/>, after a commit or between groups (<see cref="MakeDurableAsync"/>), which writes the
    /// log out up to the origin's last commit. A destination crash can then lose the last commits, with their
    /// checkpoint: the stream resumes before them, and the source still has them because it was told only
    /// <see cref="Durable"/>. Needs an origin that can say so (<see cref="Checkpoint.CanTellDurable"/>), and a
    /// destination without synchronous standbys (the question waits for the local disk only): standbys that appear
    /// while it runs are seen at the next question, which then fails retriably so that the stream starts again with
    /// commits that wait for them.
    /// </summary>
    public bool AsyncCommit { get; init; }

    /// <summary>The destination's synchronous standbys (empty: none), which the origin's answer about the disk does not cover.</summary>
    internal const string StandbysQuery = "SELECT current_setting('synchronous_standby_names')";

    /// <summary>How often the applier asks what is on disk (<see cref="AsyncCommit"/>); tests lengthen it.</summary>
    internal static TimeSpan DurableInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>When the applier last asked what is on disk; null until it first asks, which is due at once.</summary>
    private long? _durableAsked;
    public long AppliedTransactions { get; private set; }
    public long AppliedRows { get; private set; }
    public bool GroupOpen => _groupOpen;

    /// <summary>
    /// Apply changes of one shape many rows per statement. Needs triggers and foreign keys off in the session
    /// (session_replication_role = replica), because rows of different keys are applied out of their source order.
    /// </summary>
    public bool SetMode { get; set; }

    /// <summary>
    /// A full batch is sent without waiting for its results: the apply loop decodes and builds the next batch while the
    /// destination runs this one, and waits for it only before it sends again (or commits, or truncates). The worker
    /// and the destination's backend then work at the same time instead of in turn. Results are still read, and
    /// missing rows corrected, in batch order, before the next batch goes out. The applier's owner must end every run
    /// with <see cref="CommitGroupAsync"/> or <see cref="RollbackAsync"/>, which wait for it.
    /// </summary>
    public bool Pipelined { get; init; }

    /// <summary>Runs after each group commits.</summary>
    public Action? AfterCommit { get; set; }

    public void Resume(SyncLsn checkpointLsn)
    {
        LastEnd = checkpointLsn;
        Committed = checkpointLsn;
        Durable = checkpointLsn;
    }

    /// <summary>
    /// Opens a group if none is open. Its BEGIN is sent with the group's first statements, in the same round trip: sent
    /// on its own (as the driver's transaction object does), the server answered it apart from them, which woke the
    /// worker once more per group.
    /// </summary>
    public void BeginSourceTransaction()
    {
        if (!_groupOpen)
        {
            _groupOpen = true;
            _begun = false;
            _groupStarted = clock.GetTimestamp();
            _groupTransactions = 0;
            _groupChanges = 0;
        }
        _hasUncommittedSource = true;
    }

    /// <summary>The group's BEGIN, if it has not gone out yet: the caller puts it first in what it sends.</summary>
    private NpgsqlBatchCommand? TakeBegin()
    {
        if (!_groupOpen || _begun) return null;
        _begun = true;
        return new NpgsqlBatchCommand("BEGIN");
    }

    public async Task AddAsync(ApplyStatement statement, CancellationToken ct)
    {
        _pending.Add(statement);
        _groupChanges++;
        if (_pending.Count >= MaxBatch) await FlushAsync(ct, null, wait: !Pipelined).ConfigureAwait(false);
    }

    public async Task TruncateAsync(IReadOnlyList<ApplyTable> tables, bool cascade, bool restartIdentity, CancellationToken ct)
    {
        await FlushAsync(ct).ConfigureAwait(false);
        var sql = $"TRUNCATE ONLY {string.Join(", ", tables.Select(t => t.Target))}{(restartIdentity ? " RESTART IDENTITY" : "")}{(cascade ? " CASCADE" : "")}";
        await using var batch = new NpgsqlBatch(connection);
        if (TakeBegin() is { } begin) batch.BatchCommands.Add(begin);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(sql));
        await batch.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <param name="commit">The source transaction's commit.</param>
    /// <param name="counted">False for the task's own heartbeat transactions: they move the checkpoint, not the counters.</param>
    public void EndSourceTransaction(CommitEvent commit, bool counted = true)
    {
        LastEnd = commit.EndLsn;
        _groupTransactions++;
        _hasUncommittedSource = false;
        if (!counted) return;
        LastCommitTime = commit.CommitTime;
        AppliedTransactions++;
    }

    /// <summary>
    /// True when the open group should commit now: it is full or old, or the stream has nothing more for now. The stream's
    /// reader lets a burst gather before it reads it (<see cref="PgOutputReader.Gather"/>), so at moderate rates a group
    /// holds what arrived in that time: committing every source transaction on its own cost two round trips, a dozen
    /// thread wake-ups and a destination commit each (docs/benchmarks.md).
    /// </summary>
    public bool ShouldCommit(bool streamIdle)
    {
        if (!_groupOpen || _hasUncommittedSource) return false;
        return streamIdle || _groupTransactions >= MaxGroupTransactions || _groupChanges >= MaxGroupChanges || clock.GetElapsedTime(_groupStarted) >= MaxGroupAge;
    }

    /// <summary>How long until an open group is old enough to commit whatever comes (<see cref="MaxGroupAge"/>); null when no group waits.</summary>
    public TimeSpan? CommitDueIn()
    {
        if (!_groupOpen || _hasUncommittedSource) return null;
        var left = MaxGroupAge - clock.GetElapsedTime(_groupStarted);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    public async Task CommitGroupAsync(Action<IReadOnlyList<TaskEvent>> onConflicts, CancellationToken ct)
    {
        await AwaitInFlightAsync().ConfigureAwait(false);
        if (!_groupOpen) return;
        await FlushAsync(ct, _groupTransactions > 0 ? checkpoint.RecordCommand(LastEnd, LastCommitTime) : null, wait: true).ConfigureAwait(false);
        if (_begun)
        {
            await using var commit = new NpgsqlCommand("COMMIT", connection);
            try { await commit.ExecuteNonQueryAsync(ct).ConfigureAwait(false); }
            catch (PostgresException e) { throw CommitFailure(e); }
        }
        CloseGroup();
        if (_conflicts.Count > 0)
        {
            onConflicts(_conflicts.ToArray());
            _conflicts.Clear();
        }
        AfterCommit?.Invoke();
        // Where commits do not wait for the disk, at most once a second the commit is followed by asking what is on disk.
        await MakeDurableAsync(now: false, ct).ConfigureAwait(false);
    }

    private void CloseGroup()
    {
        _groupOpen = false;
        _begun = false;
        Committed = LastEnd;
        if (!AsyncCommit) Durable = Committed;
    }

    private bool DurableDue()
    {
        // Not an elapsed time from 0: a monotonic clock counts from boot, so on a machine up for less than the interval
        // the first question waited a whole interval.
        if (_durableAsked is { } asked && clock.GetElapsedTime(asked) < DurableInterval) return false;
        _durableAsked = clock.GetTimestamp();
        return true;
    }

    private void Learned(string progress)
    {
        // The origin's position is the last recorded checkpoint, which no commit of this session passes.
        if (SyncLsn.TryParse(progress, out var lsn) && lsn > Durable) Durable = lsn < Committed ? lsn : Committed;
    }

    /// <summary>
    /// Between groups, asks what of the committed groups is on disk (the server writes its log out up to the last one
    /// first), when <see cref="Durable"/> is behind and the last question is older than <see cref="DurableInterval"/>, or
    /// always with <paramref name="now"/> (before the slot is dropped, or the worker pauses).
    /// </summary>
    public async Task MakeDurableAsync(bool now, CancellationToken ct)
    {
        if (!AsyncCommit || _groupOpen || _inFlight is not null || Durable >= Committed) return;
        if (!now && !DurableDue()) return;
        if (now) _durableAsked = clock.GetTimestamp();
        if (checkpoint.DurableCommand() is not { } ask) return;
        // The standbys are asked too: configured since the stream started (a reload is enough), they would not be
        // covered by the origin's answer.
        await using var batch = new NpgsqlBatch(connection) { BatchCommands = { ask, new NpgsqlBatchCommand(StandbysQuery) } };
        string? progress = null, standbys = null;
        await using (var reader = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            if (await reader.ReadAsync(ct).ConfigureAwait(false) && !reader.IsDBNull(0)) progress = reader.GetString(0);
            if (await reader.NextResultAsync(ct).ConfigureAwait(false) && await reader.ReadAsync(ct).ConfigureAwait(false)) standbys = reader.GetString(0);
        }
        if (!string.IsNullOrWhiteSpace(standbys))
            throw new SyncException(ErrorIds.ServerError, SyncErrorCategory.ResourceBusy,
                $"The destination of task '{taskName}' now has synchronous standbys (synchronous_standby_names = '{standbys}'): the stream starts again from its " +
                "checkpoint with commits that wait for them, as the source may be told only what they have.", taskName, retriable: true);
        if (progress is not null) Learned(progress);
    }

    /// <summary>Ends the server's transaction, for a batch that failed: only the session, not the group's bookkeeping (the apply loop may be using it).</summary>
    private async Task RollbackSessionAsync()
    {
        try
        {
            await using var rollback = new NpgsqlCommand("ROLLBACK", connection);
            await rollback.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException) { }
    }

    public async Task RollbackAsync()
    {
        _pending.Clear();
        if (_inFlight is { } running)
        {
            // Its error, if any, has been or will be reported by whoever failed first; the group goes back either way.
            _inFlight = null;
            try { await running.ConfigureAwait(false); }
            catch (Exception) { }
        }
        _conflicts.Clear();
        if (!_groupOpen) return;
        // Outside a transaction (its BEGIN failed, or a failed batch or COMMIT ended it) the server only warns.
        if (_begun) await RollbackSessionAsync().ConfigureAwait(false);
        _groupOpen = false;
        _begun = false;
        LastEnd = Committed;
    }

    public Task FlushAsync(CancellationToken ct) => FlushAsync(ct, null, wait: true);

    /// <summary>
    /// Sends the pending statements; <paramref name="trailer"/> (the checkpoint) goes last in the same round trip, its
    /// result not read as a change's. Without <paramref name="wait"/> the batch stays in flight (<see cref="Pipelined"/>).
    /// A failed batch takes its group back.
    /// </summary>
    private async Task FlushAsync(CancellationToken ct, NpgsqlBatchCommand? trailer, bool wait)
    {
        await AwaitInFlightAsync().ConfigureAwait(false);
        if (_pending.Count == 0 && trailer is null) return;
        var statements = _pending.ToArray();
        _pending.Clear();
        // Runs synchronously up to its first wait on the server: the batch is built and written here, on the caller's turn.
        var sent = SendAsync(statements, trailer, ct);
        if (!wait)
        {
            _inFlight = sent;
            return;
        }
        try { await sent.ConfigureAwait(false); }
        catch
        {
            await RollbackAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Waits for the batch in flight, if any; when it failed, the group goes back and its error goes on.</summary>
    private async Task AwaitInFlightAsync()
    {
        if (_inFlight is not { } running) return;
        _inFlight = null;
        try { await running.ConfigureAwait(false); }
        catch
        {
            await RollbackAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// One batch and what its results say: conflict events, and the inserts for updates that found no row, sent after it.
    /// When pipelined this runs beside the apply loop: it touches only the results, the conflicts, the row counter and the
    /// server session, which the loop leaves alone until it has waited for it.
    /// </summary>
    private async Task SendAsync(ApplyStatement[] statements, NpgsqlBatchCommand? trailer, CancellationToken ct)
    {
        if (statements.Length == 0)
        {
            await using var alone = new NpgsqlBatch(connection);
            if (TakeBegin() is { } first) alone.BatchCommands.Add(first);
            alone.BatchCommands.Add(trailer!);
            try { await alone.ExecuteNonQueryAsync(ct).ConfigureAwait(false); }
            // Here the driver may not name the failed command; only the checkpoint can fail (a BEGIN is no error).
            catch (PostgresException e) when (e.BatchCommand is null || ReferenceEquals(e.BatchCommand, trailer)) { throw CheckpointFailure(e); }
            return;
        }
        await using var batch = new NpgsqlBatch(connection);
        var units = SetMode ? Plan(statements) : statements.Select(s => (Row: (ApplyStatement?)s, Set: (SetStatement?)null)).ToList();
        // BEGIN, when it goes first, has no result set: the reader's results still line up with the units.
        var begin = TakeBegin();
        if (begin is not null) batch.BatchCommands.Add(begin);
        var skip = begin is null ? 0 : 1;
        foreach (var unit in units) batch.BatchCommands.Add(unit.Set?.Command ?? unit.Row!.ToBatchCommand());
        if (trailer is not null) batch.BatchCommands.Add(trailer);
        var rows = new List<List<object?[]>>(units.Count);
        try
        {
            await using var reader = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false);
            do
            {
                var result = new List<object?[]>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    var values = new object?[reader.FieldCount];
                    reader.GetValues(values!);
                    result.Add(values);
                }
                rows.Add(result);
            } while (await reader.NextResultAsync(ct).ConfigureAwait(false));
        }
        // The driver does not always name the failed command: when every unit's result has been read, it was the checkpoint.
        catch (PostgresException e) when (trailer is not null && (ReferenceEquals(e.BatchCommand, trailer) || (e.BatchCommand is null && rows.Count >= units.Count)))
        {
            throw CheckpointFailure(e);
        }
        catch (PostgresException e) when (e.SqlState == "23505" && SetMode)
        {
            // Which row conflicted is known only row by row: replay this group that way (the conflict then reports both rows).
            await RollbackSessionAsync().ConfigureAwait(false);
            throw new SyncException(ErrorIds.ApplyConflict, SyncErrorCategory.ResourceBusy,
                $"A change to {DescribeFailed(e, batch, units, skip)} conflicts with an existing key on the destination; replaying its transactions row by row to identify it. ({e.MessageText})",
                taskName, retriable: true, e, e.SqlState) { Data = { [ReplayRowByRow] = true } };
        }
        catch (PostgresException e) when (e.SqlState == "23505")
        {
            // Row by row (set mode's conflicts are caught above), so each unit is one statement.
            throw await ConflictFailureAsync(FailedUnit(e, batch, units, rows.Count, skip).Row!, e, ct).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState is "22P03" or "42804" or "08P01" && Lead(FailedUnit(e, batch, units, rows.Count, skip)) is var refused &&
                                          refused.Parameters.Any(p => p.IsBinary))
        {
            // Invalid binary representation, wrong element type, or too few bytes ("insufficient data left in message",
            // which would otherwise pass for a lost connection and be retried in binary): the destination does not read
            // this type's binary form as the source wrote it. The group goes back and the stream starts again in text.
            await RollbackSessionAsync().ConfigureAwait(false);
            var table = refused.Table.Table;
            throw StreamFormat.TextRestart($"the destination refused a binary value for {table.Destination} ({e.MessageText})", table.Destination.ToString(), e, e.SqlState);
        }
        catch (PostgresException e)
        {
            var failed = FailedUnit(e, batch, units, rows.Count, skip);
            var statement = Lead(failed);
            var info = ErrorClassifier.ClassifySqlState(e.SqlState, ErrorClassifier.Describe(e), statement.Table.Table.Destination.ToString());
            throw new SyncException(info.Retriable ? info.ErrorId : ErrorIds.ApplyFailed, info.Category,
                $"Applying a change to {statement.Table.Table.Destination} (key {statement.Key}{(failed.Set is { } set ? $", one of {set.Members.Count} applied together" : "")}) failed: {info.Message}{(e.SqlState == "42703" ? UndefinedColumnRemedy : "")}",
                statement.Table.Table.Destination.ToString(), info.Retriable, e, e.SqlState);
        }
        var results = new Dictionary<ApplyStatement, List<object?>>(ReferenceEqualityComparer.Instance);
        for (var u = 0; u < units.Count; u++)
        {
            var unitRows = u < rows.Count ? rows[u] : [];
            if (units[u].Set is { } setStatement)
                foreach (var (member, result) in setStatement.Distribute(unitRows)) results[member] = result;
            else
                results[units[u].Row!] = unitRows.Select(r => r[0]).ToList();
        }
        // Updates folded into a later update of the same row count as applied; the later one reports a missing row.
        foreach (var statement in statements)
            if (!results.ContainsKey(statement)) results[statement] = [1];
        var corrections = new List<ApplyStatement>();
        for (var i = 0; i < statements.Length; i++)
        {
            var statement = statements[i];
            var result = results.GetValueOrDefault(statement) ?? [];
            AppliedRows++;
            if (statement.CorrectionOf is { } update)
            {
                // The insert for an update's missing row: one event for the update, saying what the insert did.
                var outcome = statement.Meaning switch
                {
                    StatementMeaning.InsertOrKeep when result.Count == 0 => "the source row was not inserted: it conflicts with a row on the destination (policy Ignore)",
                    StatementMeaning.InsertOrOverwrite when result.Count == 1 && result[0] is false => "wrote the source row over a row with its key (policy Overwrite)",
                    _ => "inserted the source row",
                };
                if (statement.LeftOut.Count > 0 && !(statement.Meaning == StatementMeaning.InsertOrKeep && result.Count == 0))
                    outcome += $" without {string.Join(", ", statement.LeftOut)}: the source sent no value for an unchanged out-of-line value, so the destination row " +
                               "differs there until the source changes it (Compare-SyncTask shows it)";
                _conflicts.Add(ConflictEvent(update, "UpdateMissing", outcome));
                continue;
            }
            if (statement.Meaning == StatementMeaning.Update && result.Count == 0)
            {
                // The row is missing: it becomes an INSERT, unless a later statement of this batch decides that row.
                var decidedLater = statements.Skip(i + 1).Any(later => later.TouchedKeys.Any(statement.TouchedKeys.Contains));
                if (decidedLater) _conflicts.Add(ConflictEvent(statement, "UpdateMissing", "left to a later change of the same row"));
                else if (statement.Correction is { } insert) corrections.Add(insert with { CorrectionOf = statement });
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
            await SendAsync(corrections.ToArray(), null, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Recording the checkpoint failed: retried when the server's error is, else the checkpoint is unusable.</summary>
    private SyncException CheckpointFailure(PostgresException e)
    {
        var info = ErrorClassifier.ClassifySqlState(e.SqlState, ErrorClassifier.Describe(e), taskName);
        return new SyncException(info.Retriable ? info.ErrorId : ErrorIds.CheckpointCorrupt, info.Category,
            $"Recording the checkpoint of task '{taskName}' on the destination failed: {info.Message}", taskName, info.Retriable, e, e.SqlState);
    }

    /// <summary>The group's COMMIT failed: nothing of it took effect, and the server's error decides whether it is retried.</summary>
    private SyncException CommitFailure(PostgresException e)
    {
        var info = ErrorClassifier.ClassifySqlState(e.SqlState, ErrorClassifier.Describe(e), taskName);
        return new SyncException(info.Retriable ? info.ErrorId : ErrorIds.ApplyFailed, info.Category,
            $"Committing a group of changes of task '{taskName}' on the destination failed, so none of them took effect: {info.Message}", taskName, info.Retriable, e, e.SqlState);
    }

    /// <summary>Marks an ApplyConflict that should be replayed row by row.</summary>
    public const string ReplayRowByRow = "ReplayRowByRow";

    /// <summary>
    /// Splits a batch into segments in which no row key repeats (so order within a segment does not matter), and within
    /// each segment applies statements of one shape together. Shapes that cannot go set-wise stay single statements.
    /// </summary>
    private const string UndefinedColumnRemedy =
        ". The source table has a column the destination table lacks (added on the source after the task copied it; DDL is not synchronized). " +
        "Add it on the destination with ALTER TABLE ... ADD COLUMN and start the task again, or run Restart-SyncTask to add missing columns and copy the tables again, then Start-SyncTask.";

    private static List<(ApplyStatement? Row, SetStatement? Set)> Plan(ApplyStatement[] all)
    {
        var statements = Coalesce(all);
        var units = new List<(ApplyStatement?, SetStatement?)>();
        var segment = new List<ApplyStatement>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        void Close()
        {
            // Statement text comes from its table's cache, one string per table and shape, so statements that share a
            // string share a table and shape (equal text from another cache is only applied apart).
            foreach (var group in segment.GroupBy(s => s.Sql, ReferenceEqualityComparer.Instance))
            {
                var members = group.ToList();
                if (members.Count > 1 && members[0].SetCapable) units.Add((null, SetStatement.Build(members)));
                else units.AddRange(members.Select(m => ((ApplyStatement?)m, (SetStatement?)null)));
            }
            segment.Clear();
            keys.Clear();
        }
        foreach (var statement in statements)
        {
            if (statement.TouchedKeys.Count == 0 || statement.TouchedKeys.Any(keys.Contains)) Close();
            segment.Add(statement);
            foreach (var key in statement.TouchedKeys) keys.Add(key);
            if (statement.TouchedKeys.Count == 0) Close();
        }
        Close();
        return units;
    }

    /// <summary>
    /// Drops an UPDATE whose row is updated again later in the batch by an UPDATE of the same shape, with nothing else
    /// touching the row in between: the later row image is the row's final state either way (hot rows, like pgbench's
    /// branches, change many times per batch). A missing row is then found, and inserted, by the later one.
    /// </summary>
    private static List<ApplyStatement> Coalesce(ApplyStatement[] statements)
    {
        var keep = new bool[statements.Length];
        var next = new Dictionary<string, ApplyStatement>(StringComparer.Ordinal);
        for (var i = statements.Length - 1; i >= 0; i--)
        {
            var statement = statements[i];
            keep[i] = !(statement.Meaning == StatementMeaning.Update && statement.KeyColumns.Count > 0 && statement.TouchedKeys.Count == 1 &&
                        next.TryGetValue(statement.TouchedKeys[0], out var later) && later.Meaning == StatementMeaning.Update &&
                        later.TouchedKeys.Count == 1 && ReferenceEquals(later.Table, statement.Table) && later.Sql == statement.Sql);
            foreach (var key in statement.TouchedKeys) next[key] = keep[i] ? statement : next.GetValueOrDefault(key, statement);
        }
        return statements.Where((_, i) => keep[i]).ToList();
    }

    /// <summary>A unit's statement, or its set's first member (all members of a set share table and shape).</summary>
    private static ApplyStatement Lead((ApplyStatement? Row, SetStatement? Set) unit) => unit.Row ?? unit.Set!.Members[0];

    /// <summary>The unit that raised an error (skipping the <paramref name="skip"/> commands ahead of the first unit, the group's BEGIN); else the first without a complete result.</summary>
    private static (ApplyStatement? Row, SetStatement? Set) FailedUnit(PostgresException e, NpgsqlBatch batch, List<(ApplyStatement? Row, SetStatement? Set)> units, int completed, int skip)
    {
        var index = e.BatchCommand is { } failed ? batch.BatchCommands.IndexOf(failed) - skip : -1;
        return units[index >= 0 && index < units.Count ? index : Math.Min(completed, units.Count - 1)];
    }

    private static string DescribeFailed(PostgresException e, NpgsqlBatch batch, List<(ApplyStatement? Row, SetStatement? Set)> units, int skip)
    {
        return Lead(FailedUnit(e, batch, units, 0, skip)).Table.Table.Destination.ToString();
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
        // Out of the failed transaction first, so the destination row can be read; the group's bookkeeping goes back
        // when the failure reaches the apply loop.
        await RollbackSessionAsync().ConfigureAwait(false);
        string? existing = null;
        var table = statement.Table;
        if (statement.NewRow is { } row && table.KeyIndexes.Length > 0)
        {
            try
            {
                var conditions = table.KeyIndexes.Select((k, n) => $"{table.DestinationColumns[k]} = ${n + 1}::{table.Types[k]}");
                await using var lookup = new NpgsqlCommand($"SELECT row_to_json(t)::text FROM {table.Target} t WHERE {string.Join(" AND ", conditions)}", connection);
                foreach (var k in table.KeyIndexes) lookup.Parameters.Add(BinaryParameters.For(table.Bind(k, row[k])));
                existing = await lookup.ExecuteScalarAsync(ct).ConfigureAwait(false) as string;
            }
            catch (PostgresException) { }
        }
        var source = statement.NewRow is null ? "(none)" : "(" + string.Join(", ", statement.NewRow.Select((v, i) => $"{table.Relation.Columns[i]}={table.Describe(i, v)}")) + ")";
        return new SyncException(ErrorIds.ApplyConflict, SyncErrorCategory.ResourceExists,
            $"Task '{taskName}' stopped on a conflict in {table.Table.Destination}: the source inserted key {statement.Key}, which the destination already has. " +
            $"Source row: {source}. Destination row: {existing ?? "(not readable)"}. The conflict policy is Fail; resolve the row, or set -ConflictPolicy Ignore or Overwrite, then start the task again. ({error.MessageText})",
            table.Table.Destination.ToString(), retriable: false, error, error.SqlState);
    }
}
