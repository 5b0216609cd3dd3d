using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using Npgsql.Replication;
using Sync.Engine.Apply;
using Sync.Engine.Catalog;
using Sync.Engine.Connections;
using Sync.Engine.Diagnostics;
using Sync.Engine.Runtime.Backfill;
using Sync.Engine.Schema;
using Sync.Engine.Stream;
using Sync.Engine.Tasks;

namespace Sync.Engine.Runtime;

/// <summary>
/// The second half of a task (DESIGN.md, "Stream", "Apply"): read the slot, apply in source commit order, commit
/// the checkpoint with the changes, confirm to the source only what is on the destination's disk. A reader task
/// fills a bounded channel; this loop applies, groups commits, answers heartbeats and the operator's requests.
/// </summary>
public sealed partial class RealtimeSync(TaskRunContext context)
{
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(2);
    /// <summary>How often sequence values are copied while streaming (settable for tests, which cannot wait a minute).</summary>
    internal static TimeSpan SequenceInterval { get; set; } = TimeSpan.FromSeconds(60);
    private readonly ILogger _log = context.Loggers.CreateLogger<RealtimeSync>();
    private volatile float _heartbeatLatency = -1;
    private long _lagBytes = -1;
    private long _retainedBytes = -1;
    private bool _retentionWarned;
    private bool _latencyWarned;
    /// <summary>A table whose changes the stream does not apply: a table sync is copying it again.</summary>
    private static readonly SyncLsn Frozen = new(ulong.MaxValue);
    private TaskScope? _nextScope;
    private BackgroundStateWriter? _reports;

    public async Task<RunOutcome> RunAsync()
    {
        var task = context.Definition;
        var halt = context.Halt;
        var factory = new ConnectionFactory(context.Store.Secrets);
        await using var source = factory.CreateDataSource(task.Source, $"sync:{task.Name}:stream", 4);
        var slot = TaskNaming.SlotName(task);
        var prefix = TaskNaming.Prefix(task);
        SetStage(SyncTaskStage.RealtimeSync);

        TaskScope scope;
        int sourceVersion;
        SyncLsn sourceWal;
        (bool Row, string? WhyNot) heartbeat;
        await using (var src = await ConnectionFactory.OpenAsync(source, ServerSide.Source, task.Source, halt).ConfigureAwait(false))
        {
            sourceVersion = src.PostgreSqlVersion.Major;
            // Read before the checkpoint is, and after it was written: a checkpoint from this source is never past it.
            sourceWal = SyncLsn.Parse(await src.ScalarAsync<string>(
                "SELECT coalesce(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END, '0/0')::text", halt).ConfigureAwait(false));
            scope = ScopeResolver.Resolve(task, await CatalogReader.ReadAsync(src, includeFunctions: false, halt).ConfigureAwait(false));
            var state = context.Store.ReadState(task.Name);
            if (state.Stream?.SlotName is null)
            {
                heartbeat = await PublicationManager.EnsureAsync(src, task, scope, halt).ConfigureAwait(false);
                // A slot of the task's name that its state does not know was made by an attempt killed before it
                // recorded it, after the publication: the stream starts from it, so nothing changed since is missed.
                var made = await PublicationManager.UnrecordedSlotAsync(src, task, slot, halt).ConfigureAwait(false);
                var consistent = made ?? await PublicationManager.CreateSlotAsync(factory.Build(task.Source, $"sync:{task.Name}:slot", replication: true).ConnectionString, slot, halt).ConfigureAwait(false);
                context.UpdateState(s => s with { Stream = (s.Stream ?? new StreamProgress()) with { SlotName = slot, SlotConsistentLsn = consistent.ToString() } });
                context.Event(SyncEventKind.Progress, SyncEventLevel.Information, made is null
                    ? $"Replication slot {slot} created on the source at {consistent}; changes from there on are applied."
                    : $"Replication slot {slot} on the source was made at {consistent} by an earlier attempt that ended before recording it; the task streams from it, applying changes from there on.");
            }
            else if (!await PublicationManager.SlotExistsAsync(src, slot, halt).ConfigureAwait(false))
            {
                throw new SyncException(ErrorIds.ReplicationSlotMissing, SyncErrorCategory.ObjectNotFound,
                    $"Task '{task.Name}' cannot stream: its replication slot {slot} no longer exists on the source {task.Source} (dropped by hand, or removed by max_slot_wal_keep_size). " +
                    "Changes since its last position are lost to this task; run Reset-SyncTask to copy the data again under a new slot.", task.Name);
            }
            else
            {
                heartbeat = await PublicationManager.EnsureAsync(src, task, scope, halt).ConfigureAwait(false);
            }
        }
        var startState = context.Store.ReadState(task.Name);
        var tableLsns = (startState.Copy?.Tables ?? [])
            .Where(t => SyncLsn.TryParse(t.SnapshotLsn, out _))
            .ToDictionary(t => t.Source, t => SyncLsn.Parse(t.SnapshotLsn!));
        // Tables waiting to be copied again (a table sync that did not finish, or one asked for while the task was
        // stopped) apply nothing until their table sync hands them back.
        var copies = task.Mode == SyncTaskMode.FullIncremental;
        if (copies)
            foreach (var table in TablesToCopyAgain(scope, startState).Tables) tableLsns[table.Name.ToString()] = Frozen;

        var applyBuilder = factory.Build(task.Destination, $"sync:{task.Name}:apply");
        applyBuilder.Pooling = false;
        applyBuilder.MaxAutoPrepare = 512;
        applyBuilder.AutoPrepareMinUsages = 2;
        // Its sessions can send the stream's binary values (BinaryParameters).
        await using var applySource = BinaryParameters.DataSource(applyBuilder.ConnectionString);
        await using var destination = applySource.CreateConnection();
        try { await destination.OpenAsync(halt).ConfigureAwait(false); }
        catch (Exception e) when (e is NpgsqlException or TimeoutException) { throw ConnectionFactory.ConnectionError(ServerSide.Destination, task.Destination, e); }
        var replicaRole = await PrepareApplySessionAsync(destination, halt).ConfigureAwait(false);
        var checkpoint = await Checkpoint.OpenAsync(destination, task, halt).ConfigureAwait(false);
        var resumeAt = await checkpoint.ReadAsync(destination, halt).ConfigureAwait(false);
        if (resumeAt is { } recorded) RefuseCheckpointAhead(task, recorded, sourceWal, checkpoint);
        var asyncCommit = await CommitWithoutWaitingAsync(destination, checkpoint, halt).ConfigureAwait(false);
        var applier = new ChangeApplier(destination, checkpoint, task.Name, context.Clock)
        {
            SetMode = replicaRole && !context.ApplyRowByRow, Pipelined = true, AsyncCommit = asyncCommit,
        };
        // A group replayed row by row (after a set-wise key conflict) went through: back to set-wise apply.
        applier.AfterCommit = () =>
        {
            if (!context.ApplyRowByRow) return;
            context.ApplyRowByRow = false;
            applier.SetMode = replicaRole;
        };
        if (resumeAt is { } at) applier.Resume(at);

        var streamBuilder = factory.Build(task.Source, $"sync:{task.Name}:stream", replication: true);
        // What gathers while the reader pauses (PgOutputReader.Gather) is taken in a few reads, not one per 8 KB.
        streamBuilder.ReadBufferSize = 64 * 1024;
        await using var replication = new LogicalReplicationConnection(streamBuilder.ConnectionString)
        {
            // Tell the source what is on the destination's disk every second, not every ten (Npgsql's default): the slot
            // releases WAL sooner, and the source's view of the task (confirmed_flush_lsn) is current.
            WalReceiverStatusInterval = TimeSpan.FromSeconds(1),
        };
        try { await replication.Open(halt).ConfigureAwait(false); }
        catch (Exception e) when (e is NpgsqlException or TimeoutException) { throw ConnectionFactory.ConnectionError(ServerSide.Source, task.Source, e); }
        var messages = StreamFeatures.LogicalMessages(sourceVersion);
        if (heartbeat.Row) context.UpdateState(s => s with { Stream = (s.Stream ?? new StreamProgress()) with { HeartbeatTable = true } });
        if (!messages && heartbeat.WhyNot is { } whyNot)
            context.Event(SyncEventKind.Warning, SyncEventLevel.Warning,
                $"The stream runs without a heartbeat (PostgreSQL before 14 has no logical messages in pgoutput, and {whyNot}): " +
                "latency is measured from commits only, the slot advances only with applied changes, and a stop drains until the stream is quiet.");
        // Large transactions stream while in progress where the source can (14+); they wait in files beside the task's
        // store files (removed with the task), not in memory and not on the source's disk.
        var spool = messages ? SpoolDirectory(task) : null;
        // The destination's enums, for their binary values; tables added while streaming find theirs at the next start.
        var forcedText = StreamFormat.ForcedText(task, context.StreamInText);
        var destinationTypes = StreamFeatures.EffectiveVersion(sourceVersion) >= StreamFormat.BinaryVersion && forcedText is null
            ? await DestinationTypes.ReadAsync(destination, scope, scope.DataTables, halt).ConfigureAwait(false)
            : DestinationTypes.None;
        var (binary, whyText) = StreamFormat.Choose(sourceVersion, scope.DataTables, forcedText, destinationTypes);
        var reader = new PgOutputReader(replication, slot, TaskNaming.PublicationName(task), messages, spool, binary);
        context.Event(SyncEventKind.StageChanged, SyncEventLevel.Information,
            $"Streaming from slot {slot}{(resumeAt is { } r ? $", resuming after {r}" : "")} in {(binary ? "binary format" : "text format")}{(whyText is null ? "" : $" ({whyText})")}; " +
            $"checkpoint kept in {(checkpoint.UsesOrigin ? $"replication origin {TaskNaming.OriginName(task)}" : "the task's checkpoint table")}.");
        using (var self = System.Diagnostics.Process.GetCurrentProcess())
            LogStreamStart(context.TaskName, self.TotalProcessorTime.TotalSeconds, System.Runtime.JitInfo.GetCompilationTime().TotalSeconds, System.Runtime.JitInfo.GetCompiledMethodCount(),
                !OperatingSystem.IsLinux() ? "is not held (Linux only)"
                : QuietSocket.Of(replication) is not null ? "is held between bursts"
                : "is not held (a Unix-domain connection, or a driver version that moved it): bursts gather on a timer");

        using var readerStop = CancellationTokenSource.CreateLinkedTokenSource(halt);
        // At most 16 batches of up to 512 events in flight: the worker's memory stays bounded.
        var queue = new StreamEventQueue(capacity: 16);
        var producer = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in reader.ReadAsync(resumeAt, readerStop.Token, () => queue.CaughtUpAsync(readerStop.Token)).ConfigureAwait(false))
                    await queue.AddAsync(e, readerStop.Token).ConfigureAwait(false);
                queue.Complete();
            }
            catch (Exception e) { queue.Complete(MapStreamError(e, task, slot, binary)); }
        });
        _beat = (int)(messages ? Heartbeat.Message : heartbeat.Row ? Heartbeat.Row : Heartbeat.None);
        var monitor = Task.Run(() => MonitorAsync(source, scope, prefix, slot, applier, readerStop.Token));
        var coordinator = new BackfillCoordinator();
        var scopeChanges = copies || task.Mode == SyncTaskMode.Incremental
            ? Task.Run(() => ScopeChangesAsync(scope, coordinator, messages, readerStop.Token))
            : Task.CompletedTask;
        (RunOutcome Outcome, bool EndStream) result;
        _reports = new BackgroundStateWriter(context, problem => LogMonitor(context.TaskName, problem));
        try
        {
            result = await ApplyLoopAsync(task, scope, tableLsns, applier, reader, queue, source, prefix, resumeAt, coordinator, destinationTypes).ConfigureAwait(false);
        }
        catch
        {
            await applier.RollbackAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            // The driver cancels the replication read with a synchronous cancel request (a connection of its own and a
            // round trip): on a thread-pool thread, not this one.
            await readerStop.CancelAsync().ConfigureAwait(false);
            try { await producer.ConfigureAwait(false); } catch (OperationCanceledException) { }
            try { await monitor.ConfigureAwait(false); } catch (OperationCanceledException) { }
            try { await scopeChanges.ConfigureAwait(false); } catch (OperationCanceledException) { }
            await _reports.DisposeAsync().ConfigureAwait(false);
            LogStreamEnd(context.TaskName, queue.HandOvers, queue.ReaderWaits, queue.ApplierWaits);
        }
        if (!result.EndStream) return result.Outcome;
        // The slot can be dropped only once no walsender uses it: close the stream first.
        await replication.DisposeAsync().ConfigureAwait(false);
        return await EndAsync(task, source, result.Outcome.Message ?? "").ConfigureAwait(false);
    }

    private async Task<(RunOutcome Outcome, bool EndStream)> ApplyLoopAsync(TaskDefinition task, TaskScope scope, Dictionary<string, SyncLsn> tableLsns, ChangeApplier applier,
        PgOutputReader reader, StreamEventQueue events, NpgsqlDataSource source, string prefix, SyncLsn? resumeAt,
        BackfillCoordinator coordinator, DestinationTypes destinationTypes)
    {
        var halt = context.Halt;
        var relations = new Dictionary<uint, ApplyTable?>();
        var relationEvents = new Dictionary<uint, RelationEvent>();
        void SetTableLsn(string table, SyncLsn lsn)
        {
            tableLsns[table] = lsn;
            foreach (var applyTable in relations.Values)
                if (applyTable is not null && applyTable.Table.Name.ToString() == table) applyTable.SnapshotLsn = lsn;
        }
        async Task TakeBackAsync(SyncLsn position)
        {
            foreach (var (tables, boundary, applied) in coordinator.Advance(position))
            {
                if (!applied.IsCompleted)
                {
                    // A barrier: the table sync is applying the last transactions before it. What the stream holds commits
                    // first, so that neither waits on the other's locks.
                    await applier.CommitGroupAsync(WriteConflicts, halt).ConfigureAwait(false);
                    await applied.WaitAsync(halt).ConfigureAwait(false);
                }
                foreach (var table in tables) SetTableLsn(table, boundary);
                context.Event(SyncEventKind.Progress, SyncEventLevel.Information,
                    $"{string.Join(", ", tables.Take(10))}{(tables.Count > 10 ? ", ..." : "")} copied again and back in the stream from {boundary}.");
            }
        }
        var warnedColumns = new HashSet<string>(StringComparer.Ordinal);
        var skipping = false;
        var inTransaction = false;
        var commitLsn = SyncLsn.Invalid;
        SyncLsn confirmed = resumeAt ?? SyncLsn.Invalid;
        var noted = confirmed;
        SyncLsn? drainMarker = null;
        var lastReport = context.Clock.GetTimestamp();
        var rateBase = (Tx: 0L, Rows: 0L, At: context.Clock.GetTimestamp());
        var policy = task.Options.ConflictPolicy;
        context.DefinitionChanged += changed => policy = changed.Options.ConflictPolicy;
        double? latency = null;
        long? idleSinceDrain = null;
        uint? heartbeatRelation = null;
        string? beatInTransaction = null;

        // A heartbeat at a position in the stream: everything that committed before it has been applied once the group
        // commits, so the slot may move there. True when it is the drain's mark: the stop may finish.
        async Task<bool> HeartbeatAsync(SyncLsn at, string payload)
        {
            await TakeBackAsync(at).ConfigureAwait(false);
            await applier.CommitGroupAsync(WriteConflicts, halt).ConfigureAwait(false);
            // Only once every commit before it is on disk (else the next heartbeat moves the slot).
            if (at > confirmed && applier.Durable >= applier.Committed) confirmed = at;
            if (HeartbeatTable.TryParseBeat(payload, out var sent))
                latency = Math.Max(0, (context.Clock.GetUtcNow() - sent).TotalSeconds);
            if (drainMarker is not { } marker || at < marker) return false;
            WarnUnfinishedCopies(tableLsns);
            return true;
        }

        while (true)
        {
            halt.ThrowIfCancellationRequested();
            if (coordinator.HasWork)
            {
                coordinator.ThrowIfFailed();
                if (!inTransaction && coordinator.TakeFreezes() is { Count: > 0 } freezes)
                {
                    foreach (var table in freezes.SelectMany(f => f.Tables)) SetTableLsn(table, Frozen);
                    // What the stream applied of these tables commits before the table sync may empty them.
                    await applier.CommitGroupAsync(WriteConflicts, halt).ConfigureAwait(false);
                    BackfillCoordinator.Acknowledge(freezes);
                }
            }
            if (Interlocked.Exchange(ref _nextScope, null) is { } changed)
            {
                // Tables added to or removed from the task: rebuild the relations the stream has described so far.
                scope = changed;
                foreach (var (id, relation) in relationEvents)
                    relations[id] = scope.Find(new QualifiedName(relation.Schema, relation.Name)) is { } rescoped
                        ? new ApplyTable(relation, rescoped, scope, tableLsns.GetValueOrDefault(rescoped.Name.ToString()), destinationTypes)
                        : null;
            }
            var stop = context.StopRequested;
            if (stop == StopMode.Pause && !inTransaction)
            {
                await applier.CommitGroupAsync(WriteConflicts, halt).ConfigureAwait(false);
                await applier.MakeDurableAsync(now: true, halt).ConfigureAwait(false);
                if (applier.Durable > confirmed) confirmed = applier.Durable;
                // Told now, not at the next status interval, which the worker does not wait for.
                await reader.ConfirmNowAsync(confirmed, halt).ConfigureAwait(false);
                Report(applier, confirmed, latency, ref rateBase);
                return (RunOutcome.Paused($"Paused at {applier.Committed}; the slot keeps the changes since then."), false);
            }
            if (stop == StopMode.Stop && drainMarker is null)
            {
                drainMarker = await MarkDrainAsync(source, task, prefix, halt).ConfigureAwait(false);
                context.Event(SyncEventKind.Operator, SyncEventLevel.Information, $"Draining to the source's position {drainMarker} before stopping.");
            }

            StreamEvent? next = null;
            if (!events.TryRead(out next))
            {
                if (applier.ShouldCommit(streamIdle: events.IsIdle))
                {
                    await applier.CommitGroupAsync(WriteConflicts, halt).ConfigureAwait(false);
                    latency = Math.Max(0, (context.Clock.GetUtcNow() - applier.LastCommitTime).TotalSeconds);
                }
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(halt);
                // A group still open waits for the reader's next batch, at most until it is old enough to commit anyway.
                var due = applier.CommitDueIn();
                wait.CancelAfter(due is { } left ? left + TimeSpan.FromMilliseconds(1) : TimeSpan.FromMilliseconds(200));
                try
                {
                    if (!await events.WaitToReadAsync(wait.Token).ConfigureAwait(false))
                        throw new SyncException(ErrorIds.SourceConnectionFailed, SyncErrorCategory.ConnectionError,
                            $"The replication stream of task '{task.Name}' ended unexpectedly.", task.Name, retriable: true);
                }
                catch (OperationCanceledException) when (!halt.IsCancellationRequested) { }
                if (drainMarker is not null && Beat == Heartbeat.None && !inTransaction && !applier.GroupOpen && events.IsEmpty)
                {
                    // Without a heartbeat (a source before PostgreSQL 14 where the user may not create the heartbeat table)
                    // the drain point cannot be marked in the stream: stop once the stream has been quiet for two seconds
                    // after the request, with nothing in flight.
                    idleSinceDrain ??= context.Clock.GetTimestamp();
                    if (context.Clock.GetElapsedTime(idleSinceDrain.Value) >= TimeSpan.FromSeconds(2))
                    {
                        WarnUnfinishedCopies(tableLsns);
                        return await FinishAsync(task, scope, source, applier, confirmed).ConfigureAwait(false);
                    }
                }
            }
            else
            {
                switch (next)
                {
                    case BeginEvent begin:
                        inTransaction = true;
                        commitLsn = begin.CommitLsn;
                        await TakeBackAsync(begin.CommitLsn).ConfigureAwait(false);
                        skipping = resumeAt is { } done && begin.CommitLsn < done;
                        if (!skipping) applier.BeginSourceTransaction();
                        break;
                    case RelationEvent relation when HeartbeatTable.IsHeartbeat(task, relation.Schema, relation.Name):
                        heartbeatRelation = relation.RelationId;
                        break;
                    case RowEvent row when row.RelationId == heartbeatRelation:
                        beatInTransaction = row.NewValues is [_, var at, ..] && !at.IsNull ? at.ToString() : "";
                        break;
                    case RelationEvent relation:
                        relationEvents[relation.RelationId] = relation;
                        relations[relation.RelationId] = scope.Find(new QualifiedName(relation.Schema, relation.Name)) is { } scoped
                            ? new ApplyTable(relation, scoped, scope, tableLsns.GetValueOrDefault(scoped.Name.ToString()), destinationTypes)
                            : null;
                        if (relations[relation.RelationId] is { } described) WarnUnknownColumns(task, described, warnedColumns);
                        break;
                    case RowEvent row when !skipping:
                        if (relations.GetValueOrDefault(row.RelationId) is not { } table || commitLsn < table.SnapshotLsn) break;
                        var statement = StatementBuilder.For(table, row, policy);
                        if (statement is not null) await applier.AddAsync(statement, halt).ConfigureAwait(false);
                        break;
                    case TruncateEvent truncate when !skipping:
                        var truncated = StatementBuilder.Truncated(truncate, relations, commitLsn);
                        if (truncated.Count > 0)
                        {
                            await applier.TruncateAsync(truncated, truncate.Cascade, truncate.RestartIdentity, halt).ConfigureAwait(false);
                            context.Event(SyncEventKind.Ddl, SyncEventLevel.Information, $"TRUNCATE applied to {string.Join(", ", truncated.Select(t => t.Table.Destination.ToString()))}.");
                        }
                        break;
                    case CommitEvent commit:
                        inTransaction = false;
                        // A heartbeat row's transaction moves the checkpoint but is not an applied transaction.
                        if (!skipping) applier.EndSourceTransaction(commit, counted: beatInTransaction is null);
                        skipping = false;
                        if (beatInTransaction is { } payload)
                        {
                            // The heartbeat row's transaction (sources before 14): a heartbeat at its commit.
                            beatInTransaction = null;
                            if (await HeartbeatAsync(commit.CommitLsn, payload).ConfigureAwait(false))
                                return await FinishAsync(task, scope, source, applier, confirmed).ConfigureAwait(false);
                            break;
                        }
                        if (applier.ShouldCommit(streamIdle: events.IsIdle))
                        {
                            await applier.CommitGroupAsync(WriteConflicts, halt).ConfigureAwait(false);
                            latency = Math.Max(0, (context.Clock.GetUtcNow() - commit.CommitTime).TotalSeconds);
                        }
                        break;
                    case HeartbeatEvent heartbeat when heartbeat.Prefix == prefix:
                        if (inTransaction) break;
                        if (await HeartbeatAsync(heartbeat.Lsn, heartbeat.Payload).ConfigureAwait(false))
                            return await FinishAsync(task, scope, source, applier, confirmed).ConfigureAwait(false);
                        break;
                }
            }
            if (next is not null) idleSinceDrain = null;
            await applier.MakeDurableAsync(now: false, halt).ConfigureAwait(false);
            if (applier.Durable > confirmed) confirmed = applier.Durable;
            if (confirmed > noted)
            {
                noted = confirmed;
                context.NoteProgress();
            }
            reader.Confirm(confirmed);
            if (context.Clock.GetElapsedTime(lastReport) >= TimeSpan.FromSeconds(1))
            {
                Report(applier, confirmed, latency ?? (_heartbeatLatency >= 0 ? _heartbeatLatency : null), ref rateBase);
                lastReport = context.Clock.GetTimestamp();
            }
        }
    }

    /// <summary>
    /// Follows changes of the task's scope while it streams: tables added to the selection (or asked to be copied again
    /// with Restart-SyncTask) get a table sync; removed tables leave the publication and the stream. Runs once at the
    /// start (for what a previous run left pending) and again after every definition reload.
    /// </summary>
    private async Task ScopeChangesAsync(TaskScope initial, BackfillCoordinator coordinator, bool messages, CancellationToken ct)
    {
        using var signal = new SemaphoreSlim(0);
        void OnChanged(TaskDefinition changed) => signal.Release();
        context.DefinitionChanged += OnChanged;
        var current = initial;
        var first = true;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (!first) await signal.WaitAsync(ct).ConfigureAwait(false);
                first = false;
                var task = context.Definition;
                // The requests are read before the catalog, so the catalog is at least as new as the newest request
                // served here (a rerun asked for after a column was added must see that column).
                var requested = context.Store.ReadState(task.Name);
                var factory = new ConnectionFactory(context.Store.Secrets);
                TaskScope next;
                await using (var source = factory.CreateDataSource(task.Source, $"sync:{task.Name}:scope", 1))
                await using (var src = await ConnectionFactory.OpenAsync(source, ServerSide.Source, task.Source, ct).ConfigureAwait(false))
                {
                    next = ScopeResolver.Resolve(task, await CatalogReader.ReadAsync(src, includeFunctions: false, ct).ConfigureAwait(false));
                    var before = current.DataTables.Select(t => t.Name).ToHashSet();
                    var after = next.DataTables.Select(t => t.Name).ToHashSet();
                    if (!before.SetEquals(after) && await PublicationManager.EnsureAsync(src, task, next, ct).ConfigureAwait(false) is { Heartbeat: false } publication
                        && Beat == Heartbeat.Row)
                        LoseHeartbeat($"The heartbeat table left the task's publication ({publication.WhyNot})");
                    var recorded = (context.Store.ReadState(task.Name).Copy?.Tables ?? []).Select(t => QualifiedName.Parse(t.Source));
                    var removed = before.Union(recorded).Except(after).Select(t => t.ToString()).ToHashSet(StringComparer.Ordinal);
                    if (removed.Count > 0)
                    {
                        // The task keeps owning their destination tables: added again, they are emptied and copied again.
                        context.UpdateState(s => s with { Copy = s.Copy is null ? null : s.Copy with { Tables = s.Copy.Tables.Where(t => !removed.Contains(t.Source)).ToArray() } });
                        context.Event(SyncEventKind.Operator, SyncEventLevel.Information,
                            $"{string.Join(", ", removed.Order())} left the task: no longer in its publication or applied; their destination rows are kept.");
                    }
                }
                var work = task.Mode == SyncTaskMode.FullIncremental ? TablesToCopyAgain(next, requested) : ([], new HashSet<QualifiedName>(), false, []);
                if (work.Tables.Count > 0 && !messages)
                    throw new SyncException(ErrorIds.SyncTaskInvalidState, SyncErrorCategory.InvalidOperation,
                        $"Task '{task.Name}' cannot copy tables again while it streams: the source is older than PostgreSQL 14 and cannot mark the hand-over point. " +
                        "Suspend the task and use Reset-SyncTask instead.", task.Name);
                // New tables are frozen before the stream sees them in its scope, so it applies nothing of theirs early.
                if (work.Tables.Count > 0) await coordinator.FreezeAsync(work.Tables.Select(t => t.Name.ToString()).ToList(), ct).ConfigureAwait(false);
                Volatile.Write(ref _nextScope, next);
                current = next;
                if (work.Tables.Count > 0)
                {
                    await new TableSync(context, coordinator).RunAsync(next, work.Tables, work.Added, work.AddColumns, work.Requests, ct).ConfigureAwait(false);
                    if (context.Store.ReadState(task.Name).PendingBackfill.Count > 0) signal.Release();
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            coordinator.Fail(e);
        }
        finally
        {
            context.DefinitionChanged -= OnChanged;
        }
    }

    /// <summary>
    /// Tables of the scope that need a table sync: those asked for with Restart-SyncTask ("*": all, with missing columns
    /// added), those a table sync did not finish, and those the task has never copied (added to its selection).
    /// </summary>
    private static (IReadOnlyList<ScopedTable> Tables, IReadOnlySet<QualifiedName> Added, bool AddColumns, IReadOnlyList<string> Requests) TablesToCopyAgain(TaskScope scope, TaskState state)
    {
        var all = state.PendingBackfill.Contains("*");
        var pending = state.PendingBackfill.ToHashSet(StringComparer.Ordinal);
        var known = (state.Copy?.Tables ?? []).ToDictionary(t => t.Source, StringComparer.Ordinal);
        // A table sync records the new snapshot position only at its hand-over: a table without one was being copied.
        var added = scope.DataTables.Where(t => known.GetValueOrDefault(t.Name.ToString()) is not { InStream: true })
            .Select(t => t.Name).ToHashSet();
        var tables = scope.DataTables.Where(t => all || pending.Contains(t.Name.ToString()) || added.Contains(t.Name)).ToList();
        return (tables, added, all, state.PendingBackfill);
    }

    /// <summary>
    /// A column the source gained after the task read its catalog (DDL is not synchronized) is not applied: says so once
    /// per column, with the way to carry it.
    /// </summary>
    private void WarnUnknownColumns(TaskDefinition task, ApplyTable table, HashSet<string> warned)
    {
        var unknown = table.Relation.Columns
            .Where(c => !table.Table.ColumnNames.ContainsKey(c) && ScopeResolver.ColumnSelected(task, table.Table.Name, c) && warned.Add(table.Table.Name + "." + c))
            .ToList();
        if (unknown.Count == 0) return;
        context.Event(SyncEventKind.Ddl, SyncEventLevel.Warning,
            $"{table.Table.Name} has column{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown)} on the source that the task does not carry (added after it read the " +
            $"source's schema; DDL is not synchronized): their values are not applied to {table.Table.Destination}. Run Restart-SyncTask '{task.Name}' to add missing " +
            "columns on the destination and copy the tables again while the stream runs.");
    }

    private void WarnUnfinishedCopies(Dictionary<string, SyncLsn> tableLsns)
    {
        var unfinished = tableLsns.Where(kv => kv.Value == Frozen).Select(kv => kv.Key).Order().ToList();
        if (unfinished.Count > 0)
            context.Event(SyncEventKind.Warning, SyncEventLevel.Warning,
                $"Stopped while {string.Join(", ", unfinished)} were being copied again: they are incomplete on the destination. Reset-SyncTask runs the task again.");
    }

    /// <summary>The normal end of a stream: all applied up to the drain point, sequences ahead by the margin, slot and publication dropped.</summary>
    private async Task<(RunOutcome, bool)> FinishAsync(TaskDefinition task, TaskScope scope, NpgsqlDataSource source, ChangeApplier applier, SyncLsn confirmed)
    {
        await applier.CommitGroupAsync(WriteConflicts, context.Halt).ConfigureAwait(false);
        // On disk before the slot that still holds it goes.
        await applier.MakeDurableAsync(now: true, context.Halt).ConfigureAwait(false);
        if (applier.Durable > confirmed) confirmed = applier.Durable;
        // The last periodic report lands before the final positions, never after them.
        if (_reports is not null) await _reports.DisposeAsync().ConfigureAwait(false);
        var factory = new ConnectionFactory(context.Store.Secrets);
        await using (var destination = factory.CreateDataSource(task.Destination, $"sync:{task.Name}:stop", 2))
        {
            var count = await SourceSequences.CopyValuesAsync(source, destination, scope, task.Options.SequenceSafetyMargin, context.Halt).ConfigureAwait(false);
            context.Event(SyncEventKind.Progress, SyncEventLevel.Information,
                $"{count} destination sequences set to the source's values plus the safety margin of {task.Options.SequenceSafetyMargin:N0}.");
        }
        context.UpdateState(s => s with { Stream = (s.Stream ?? new StreamProgress()) with { CheckpointLsn = applier.Committed.ToString(), ConfirmedLsn = confirmed.ToString() } });
        return (RunOutcome.Completed($"Stopped after applying everything up to {applier.Committed}."), true);
    }

    /// <summary>Drops the slot and publication (the task's stream ends here) and reports what could not be dropped.</summary>
    private async Task<RunOutcome> EndAsync(TaskDefinition task, NpgsqlDataSource source, string message)
    {
        var left = await PublicationManager.DropAsync(source, task, context.Store.ReadState(task.Name).Stream?.HeartbeatTable == true, CancellationToken.None).ConfigureAwait(false);
        context.UpdateState(s => s with { Stream = (s.Stream ?? new StreamProgress()) with { SlotName = null, HeartbeatTable = s.Stream?.HeartbeatTable == true && left.Count > 0 } });
        if (left.Count > 0)
            context.Event(SyncEventKind.Warning, SyncEventLevel.Warning, "Could not remove: " + string.Join("; ", left));
        return RunOutcome.Completed(message + (left.Count == 0 ? $" Slot and publication {TaskNaming.SlotName(task)} dropped." : ""));
    }

    /// <summary>
    /// The task's folder in the file store; for any other store a new private folder (owner only, unpredictable name)
    /// under the temporary path, which the spool removes when the stream ends.
    /// </summary>
    private string SpoolDirectory(TaskDefinition task) => context.Store is Store.FileTaskStore files
        ? Path.Combine(files.TaskFolder(task.Name), "spool")
        : Directory.CreateTempSubdirectory($"sync-spool-{task.Id}-").FullName;

    /// <summary>How the stream's heartbeat travels: a logical decoding message (14+), the heartbeat table's row, or not at all.</summary>
    private enum Heartbeat { None, Message, Row }

    /// <summary>The heartbeat in use: lowered to None by whoever finds it cannot be written (the monitor, the drain).</summary>
    private volatile int _beat;

    private Heartbeat Beat => (Heartbeat)_beat;

    /// <summary>The heartbeat cannot be written any more: say so once, and go on without it.</summary>
    private void LoseHeartbeat(string why)
    {
        if (Interlocked.Exchange(ref _beat, (int)Heartbeat.None) == (int)Heartbeat.None) return;
        context.Event(SyncEventKind.Warning, SyncEventLevel.Warning,
            $"{why}; latency is measured from commits only, the slot advances only with applied changes, and a stop drains until the stream is quiet.");
    }

    /// <summary>
    /// A position the drain must reach: a heartbeat written now (a message on 14+, the heartbeat row before), else the
    /// current WAL end.
    /// </summary>
    private async Task<SyncLsn> MarkDrainAsync(NpgsqlDataSource source, TaskDefinition task, string prefix, CancellationToken ct)
    {
        await using var connection = await source.OpenConnectionAsync(ct).ConfigureAwait(false);
        return await BeatAsync(connection, task, prefix, ct).ConfigureAwait(false)
            ?? SyncLsn.Parse(await connection.ScalarAsync<string>("SELECT pg_current_wal_lsn()::text", ct).ConfigureAwait(false));
    }

    /// <summary>
    /// Writes a heartbeat the way the stream carries one (a message, or the heartbeat row) and returns its position; null
    /// when there is none, including when writing it was refused: the heartbeat is then lost for the rest of the run.
    /// </summary>
    private async Task<SyncLsn?> BeatAsync(NpgsqlConnection connection, TaskDefinition task, string prefix, CancellationToken ct)
    {
        var beat = Beat;
        try
        {
            return beat switch
            {
                Heartbeat.Message => await EmitHeartbeatAsync(connection, prefix, ct).ConfigureAwait(false),
                Heartbeat.Row => await HeartbeatTable.BeatAsync(connection, task, ct).ConfigureAwait(false),
                _ => null,
            };
        }
        catch (PostgresException e) when (e.SqlState == "42501" && beat == Heartbeat.Message)
        {
            LoseHeartbeat($"The source user may not write logical decoding messages ({e.MessageText})");
        }
        catch (PostgresException e) when (e.SqlState is "42501" or "42P01" && beat == Heartbeat.Row)
        {
            LoseHeartbeat($"The heartbeat row {HeartbeatTable.Name(task)} cannot be written ({e.MessageText})");
        }
        return null;
    }

    /// <summary>Writes the heartbeat message (PostgreSQL 14+) with the source's time; returns its position.</summary>
    private static async Task<SyncLsn> EmitHeartbeatAsync(NpgsqlConnection connection, string prefix, CancellationToken ct) =>
        SyncLsn.Parse(await connection.ScalarAsync<string>("SELECT pg_logical_emit_message(false, $1, now()::text)::text", ct, prefix).ConfigureAwait(false));

    /// <summary>Every few seconds: a heartbeat through the stream, the source's position and retained WAL, and sequence values every minute.</summary>
    private async Task MonitorAsync(NpgsqlDataSource source, TaskScope scope, string prefix, string slot, ChangeApplier applier, CancellationToken ct)
    {
        var lastSequences = context.Clock.GetTimestamp();
        var factory = new ConnectionFactory(context.Store.Secrets);
        await using var destination = factory.CreateDataSource(context.Definition.Destination, $"sync:{context.TaskName}:sequences", 2);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = await source.OpenConnectionAsync(ct).ConfigureAwait(false);
                await BeatAsync(connection, context.Definition, prefix, ct).ConfigureAwait(false);
                await using (var position = new NpgsqlCommand(
                    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(confirmed_flush_lsn, '0/0'))::bigint, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1", connection))
                {
                    position.Parameters.AddWithValue(slot);
                    await using var reader = await position.ExecuteReaderAsync(ct).ConfigureAwait(false);
                    if (await reader.ReadAsync(ct).ConfigureAwait(false))
                    {
                        Interlocked.Exchange(ref _lagBytes, reader.IsDBNull(0) ? -1 : reader.GetInt64(0));
                        Interlocked.Exchange(ref _retainedBytes, reader.IsDBNull(1) ? -1 : reader.GetInt64(1));
                    }
                }
                var retained = Interlocked.Read(ref _retainedBytes);
                if (retained > context.Definition.Options.WalRetentionWarningBytes && !_retentionWarned)
                {
                    _retentionWarned = true;
                    context.Event(SyncEventKind.Warning, SyncEventLevel.Warning,
                        $"Slot {slot} holds {retained / 1048576.0:N0} MB of WAL on the source (warning threshold {context.Definition.Options.WalRetentionWarningBytes / 1048576.0:N0} MB): the task is behind or stopped.");
                }
                if (context.Clock.GetElapsedTime(lastSequences) >= SequenceInterval)
                {
                    await SourceSequences.CopyValuesAsync(source, destination, scope, 0, ct).ConfigureAwait(false);
                    lastSequences = context.Clock.GetTimestamp();
                }
            }
            catch (Exception e) when (e is NpgsqlException or SyncException or TimeoutException)
            {
                LogMonitor(context.TaskName, ErrorClassifier.Classify(e).Message);
            }
            await Task.Delay(HeartbeatInterval, context.Clock, ct).ConfigureAwait(false);
        }
    }

    private void Report(ChangeApplier applier, SyncLsn confirmed, double? latency, ref (long Tx, long Rows, long At) rateBase)
    {
        var seconds = Math.Max(0.001, context.Clock.GetElapsedTime(rateBase.At).TotalSeconds);
        var tps = (applier.AppliedTransactions - rateBase.Tx) / seconds;
        var rps = (applier.AppliedRows - rateBase.Rows) / seconds;
        rateBase = (applier.AppliedTransactions, applier.AppliedRows, context.Clock.GetTimestamp());
        var lag = Interlocked.Read(ref _lagBytes);
        var retained = Interlocked.Read(ref _retainedBytes);
        var lastCommit = applier.LastCommitTime;
        var threshold = context.Definition.Options.LatencyWarningSeconds;
        if (latency is { } current && threshold > 0 && (current > threshold) != _latencyWarned)
        {
            // An alert when latency crosses the task's threshold, and one when it is back under: what a scheduled
            // script watching Get-SyncTaskEvent -Level Warning reacts to (docs/operations.md).
            _latencyWarned = current > threshold;
            context.Event(SyncEventKind.Warning, _latencyWarned ? SyncEventLevel.Warning : SyncEventLevel.Information,
                _latencyWarned
                    ? $"Latency {current:0} s is over the task's threshold of {threshold} s."
                    : $"Latency {current:0} s is back under the task's threshold of {threshold} s.",
                new Dictionary<string, string> { ["latencySeconds"] = current.ToString("0.###", CultureInfo.InvariantCulture), ["thresholdSeconds"] = threshold.ToString(CultureInfo.InvariantCulture) });
        }
        // Values are taken now; the write happens on the report writer's thread, so the apply loop never waits for the disk.
        var committed = applier.Committed;
        var (transactions, rows) = (applier.AppliedTransactions, applier.AppliedRows);
        _reports!.Post(s => s with
        {
            Stream = (s.Stream ?? new StreamProgress()) with
            {
                CheckpointLsn = committed.IsValid ? committed.ToString() : s.Stream?.CheckpointLsn,
                ConfirmedLsn = confirmed.IsValid ? confirmed.ToString() : s.Stream?.ConfirmedLsn,
                LatencySeconds = latency,
                LagBytes = lag >= 0 ? lag : null,
                RetainedWalBytes = retained >= 0 ? retained : null,
                AppliedTransactions = transactions,
                AppliedRows = rows,
                TransactionsPerSecond = Math.Round(tps, 1),
                RowsPerSecond = Math.Round(rps, 1),
                LastSourceCommit = lastCommit == default ? s.Stream?.LastSourceCommit : lastCommit,
            },
        });
    }

    private void WriteConflicts(IReadOnlyList<TaskEvent> conflicts)
    {
        foreach (var conflict in conflicts) context.Store.AppendEvent(context.TaskName, conflict);
    }

    /// <summary>
    /// A checkpoint ahead of where the source's WAL is now was not written by streaming from this source as it is: the
    /// task was pointed at another server, or the source was restored from an earlier backup. Resuming after it would
    /// skip every change up to it, so the task fails at its start instead, and applies nothing.
    /// </summary>
    private static void RefuseCheckpointAhead(TaskDefinition task, SyncLsn recorded, SyncLsn current, Checkpoint checkpoint)
    {
        if (!current.IsValid || recorded <= current) return;
        throw new SyncException(ErrorIds.CheckpointAheadOfSource, SyncErrorCategory.InvalidData,
            $"Task '{task.Name}' cannot resume: the destination's checkpoint ({recorded}, in {(checkpoint.UsesOrigin ? $"replication origin {TaskNaming.OriginName(task)}" : "the task's checkpoint table")}) " +
            $"is ahead of the source {task.Source}, whose WAL is now at {current}. It was written while streaming from another server, or the source was restored from an earlier backup; " +
            "resuming would skip every change up to it. Run Reset-SyncTask to copy the data again.", task.Name);
    }

    /// <summary>
    /// Lets the apply session commit without waiting for the destination's disk (ChangeApplier.AsyncCommit) where the
    /// source can still be told exactly what is on disk: the checkpoint is an origin the role may ask, and the
    /// destination has no synchronous standbys (the origin's answer covers the local disk only, so with standbys every
    /// commit keeps waiting for them as before). The checkpoint table's commits keep waiting too.
    /// </summary>
    internal static async Task<bool> CommitWithoutWaitingAsync(NpgsqlConnection destination, Checkpoint checkpoint, CancellationToken ct)
    {
        if (!checkpoint.CanTellDurable) return false;
        await using (var standbys = new NpgsqlCommand(ChangeApplier.StandbysQuery, destination))
            if (await standbys.ExecuteScalarAsync(ct).ConfigureAwait(false) is string names && names.Trim().Length > 0) return false;
        await using var off = new NpgsqlCommand("SET synchronous_commit = off", destination);
        await off.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        return true;
    }

    /// <summary>Prepares the apply session; true when triggers and foreign keys are off in it (session_replication_role = replica).</summary>
    internal static async Task<bool> PrepareApplySessionAsync(NpgsqlConnection destination, CancellationToken ct)
    {
        // The stream's text values are written in these settings (ConnectionFactory.StreamTextSettings); reading them in
        // the same ones keeps dates, intervals and object names from meaning something else on the destination.
        // Commits wait for the disk (and synchronous standbys' flush) unless CommitWithoutWaitingAsync lets them go; a
        // destination whose DBA asks for remote_apply keeps it, which "on" would weaken.
        await using (var command = new NpgsqlCommand(
            "SELECT set_config('synchronous_commit', CASE current_setting('synchronous_commit') WHEN 'remote_apply' THEN 'remote_apply' ELSE 'on' END, false); " +
            "SET search_path = pg_catalog; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'", destination))
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        try
        {
            await using var replica = new NpgsqlCommand("SET session_replication_role = replica", destination);
            await replica.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return true;
        }
        catch (PostgresException e) when (e.SqlState == "42501") { return false; }
    }

    private static Exception MapStreamError(Exception e, TaskDefinition task, string slot, bool binary)
    {
        if (StreamFormat.SourceCannotSend(e, binary, task.Name) is { } textRestart) return textRestart;
        if (e is PostgresException { SqlState: "42704" } missing)
            return new SyncException(ErrorIds.ReplicationSlotMissing, SyncErrorCategory.ObjectNotFound,
                $"Task '{task.Name}' cannot stream: {missing.MessageText}. The slot {slot} was dropped on the source; run Reset-SyncTask to copy the data again under a new slot.",
                task.Name, inner: e);
        if (e is NpgsqlException or IOException or TimeoutException)
            return ConnectionFactory.ConnectionError(ServerSide.Source, task.Source, e);
        return e;
    }

    private void SetStage(SyncTaskStage stage)
    {
        if (context.Store.ReadState(context.TaskName).Stage == stage) return;
        context.UpdateState(s => s with { Stage = stage });
        context.Event(SyncEventKind.StageChanged, SyncEventLevel.Information, $"Stage {stage}.");
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "Task {TaskName}: stream monitor: {Reason}")]
    private partial void LogMonitor(string taskName, string reason);

    // What the process had cost when its stream started: a fresh worker's start-up (connections, catalog, compiling). The
    // JIT's time is summed over the threads that compiled, waits included, so it can exceed the CPU.
    [LoggerMessage(EventId = 401, Level = LogLevel.Information,
        Message = "Task {TaskName}: the stream starts; the worker has used {CpuSeconds:0.00} s of CPU, and the JIT has run for {JitSeconds:0.00} s ({Methods} methods); the stream's socket {Socket}")]
    private partial void LogStreamStart(string taskName, double cpuSeconds, double jitSeconds, long methods, string socket);

    // Which side of the worker's hand-over waited for the other: a reader that waits for the applier leaves the source's
    // walsender waiting in turn; an applier that waits for the reader is waiting for the source.
    [LoggerMessage(EventId = 402, Level = LogLevel.Information,
        Message = "Task {TaskName}: the stream ends; {HandOvers} batches handed over, the reader waited for the applier {ReaderWaits} times, the applier for the reader {ApplierWaits} times")]
    private partial void LogStreamEnd(string taskName, long handOvers, long readerWaits, long applierWaits);
}
