using Microsoft.Extensions.Logging;
using Npgsql;
using Sync.Engine.Apply;
using Sync.Engine.Catalog;
using Sync.Engine.Connections;
using Sync.Engine.Diagnostics;
using Sync.Engine.Schema;
using Sync.Engine.Snapshot;
using Sync.Engine.Stream;
using Sync.Engine.Tasks;

namespace Sync.Engine.Runtime.Backfill;

/// <summary>
/// Copies some tables of a streaming task again while its stream keeps applying all the others (backfill, rerun, a
/// table added to a running task). The stream first stops applying them; a temporary slot gives a snapshot and its
/// position; the tables are emptied (or created) and copied under that snapshot; their changes since then are applied
/// from the temporary slot until the table sync is ahead of the stream; then the stream takes them back at that exact
/// position (<see cref="BackfillCoordinator"/>). A crash at any point leaves them in the task's pending list, and the
/// next run starts over for them.
/// </summary>
public sealed partial class TableSync(TaskRunContext context, BackfillCoordinator coordinator)
{
    private readonly ILogger _log = context.Loggers.CreateLogger<TableSync>();

    /// <param name="scope">The task's scope now.</param>
    /// <param name="tables">The tables to copy again.</param>
    /// <param name="added">Those of them the destination may not have yet (created here, with indexes after the data).</param>
    /// <param name="addColumns">Add destination columns the source has and the destination lacks (a rerun).</param>
    /// <param name="requests">The task's pending requests this run serves: only these leave the list at the hand-over.</param>
    /// <param name="ct">Cancelled when the stream ends; the tables stay pending and the next run copies them again.</param>
    public async Task RunAsync(TaskScope scope, IReadOnlyList<ScopedTable> tables, IReadOnlySet<QualifiedName> added, bool addColumns,
        IReadOnlyList<string> requests, CancellationToken ct)
    {
        var task = context.Definition;
        var names = tables.Select(t => t.Name.ToString()).ToList();
        var workers = Math.Max(1, Math.Min(task.Options.CopyWorkers > 0 ? task.Options.CopyWorkers : FullSync.DefaultWorkers, 4));
        var factory = new ConnectionFactory(context.Store.Secrets);
        await using var source = factory.CreateDataSource(task.Source, $"sync:{task.Name}:backfill", workers + 2);
        await using var destination = factory.CreateDataSource(task.Destination, $"sync:{task.Name}:backfill", workers + 2);
        context.Event(SyncEventKind.Progress, SyncEventLevel.Information,
            $"Copying {names.Count} tables again while the stream runs: {string.Join(", ", names.Take(10))}{(names.Count > 10 ? ", ..." : "")}.");

        SchemaPlan plan;
        HashSet<QualifiedName> userTables;
        await using (var dst = await ConnectionFactory.OpenAsync(destination, ServerSide.Destination, task.Destination, ct).ConfigureAwait(false))
        {
            await SchemaMigrator.PrepareSessionAsync(dst, ct).ConfigureAwait(false);
            var existing = new HashSet<QualifiedName>();
            foreach (var table in scope.Tables)
                if (!added.Contains(table.Name) || await dst.ScalarAsync<bool>("SELECT to_regclass($1) IS NOT NULL", ct, table.Destination.Sql).ConfigureAwait(false))
                    existing.Add(table.Destination);
            var owned = context.Store.ReadState(task.Name).Copy?.OwnDestinationTables() ?? new HashSet<string>();
            var taken = tables.Where(t => added.Contains(t.Name) && existing.Contains(t.Destination) && !owned.Contains(t.Destination.ToString()))
                .Select(t => t.Destination.ToString()).ToList();
            if (taken.Count > 0 && task.Options.ExistingTables == ExistingTablePolicy.Error)
                throw new SyncException(ErrorIds.DestinationTableExists, SyncErrorCategory.ResourceExists,
                    $"Task '{task.Name}' cannot add {string.Join(", ", taken)}: they already exist on the destination. Drop them, map the tables to other names, or set -ExistingTable Ignore.", task.Name);
            userTables = tables.Where(t => taken.Contains(t.Destination.ToString())).Select(t => t.Destination).ToHashSet();
            plan = SchemaBuilder.Build(scope, existing);
            await SchemaMigrator.RunAsync(dst, plan.Namespaces, ct).ConfigureAwait(false);
            await SchemaMigrator.RunInRoundsAsync(dst, plan.Types, ct).ConfigureAwait(false);
            await SchemaMigrator.RunAsync(dst, plan.Sequences, ct).ConfigureAwait(false);
            await SchemaMigrator.RunAsync(dst, plan.Tables, ct).ConfigureAwait(false);
            // The tables created here are the task's own from now on (a retry empties them instead of refusing them).
            var created = plan.Tables.Where(t => t.Kind == "Table" && t.Table is not null).Select(t => t.Table!.Value.ToString()).ToList();
            if (created.Count > 0)
                context.UpdateState(s => s with { Copy = (s.Copy ?? new CopyProgress()) with { OwnedTables = (s.Copy?.OwnedTables ?? []).Union(created).Order(StringComparer.Ordinal).ToArray() } });
            if (addColumns) await AddMissingColumnsAsync(dst, scope, tables, ct).ConfigureAwait(false);
        }

        await coordinator.FreezeAsync(names, ct).ConfigureAwait(false);
        var replication = factory.Build(task.Source, $"sync:{task.Name}:backfill", replication: true).ConnectionString;
        SnapshotLease lease;
        var temporary = TaskNaming.TemporarySlotName(task, 5000 + Environment.ProcessId % 5000);
        try
        {
            lease = await SnapshotLease.CreateSlotAsync(replication, temporary, temporary: true, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (ConnectionFactory.IsConnectionFailure(e))
        {
            throw ConnectionFactory.ConnectionError(ServerSide.Source, task.Source, e);
        }
        catch (PostgresException e)
        {
            throw ConnectionFactory.SlotRefused(task.Source, temporary, e, task.Name);
        }
        await using (lease.ConfigureAwait(false))
        {
            var progressTable = new CopyProgressTable(task);
            var jobs = await PrepareAsync(scope, tables, added, userTables, progressTable, source, destination, workers, ct).ConfigureAwait(false);
            await using (var tracker = new CopyStateTracker(context))
            {
                var limiter = new FlowLimiter(task.Options.FlowControl, context.Clock);
                void OnDefinitionChanged(TaskDefinition changed) => limiter.Update(changed.Options.FlowControl);
                context.DefinitionChanged += OnDefinitionChanged;
                try
                {
                    var copier = new SnapshotCopier(source, destination, progressTable, limiter, task.Options.ConflictPolicy, tracker);
                    await copier.CopyAsync(lease, jobs, workers, ct).ConfigureAwait(false);
                }
                finally
                {
                    context.DefinitionChanged -= OnDefinitionChanged;
                }
                tracker.Flush();
            }
            // The same index and key steps as the full copy's (only keys without -SyncIndexes), for these tables.
            var indexes = FullSync.IndexStepsByTable(task, plan).Where(kv => tables.Any(t => t.Destination == kv.Key)).ToList();
            if (indexes.Count > 0)
            {
                var builder = new IndexBuilder(destination, workers, ct);
                foreach (var (_, steps) in indexes) builder.Enqueue(steps);
                await builder.CompletionAsync().ConfigureAwait(false);
            }
            await using (var dst = await ConnectionFactory.OpenAsync(destination, ServerSide.Destination, task.Destination, ct).ConfigureAwait(false))
            {
                await SchemaMigrator.PrepareSessionAsync(dst, ct).ConfigureAwait(false);
                foreach (var fk in plan.ForeignKeys.Where(s => s.Table is { } t && tables.Any(x => x.Destination == t)))
                    await SchemaMigrator.RunStepAsync(dst, fk, ct, tolerateMissing: true).ConfigureAwait(false);
            }
            context.Event(SyncEventKind.Progress, SyncEventLevel.Information,
                $"{names.Count} tables copied again under the snapshot at {lease.Lsn}; applying their changes since then until the stream can take them back.");
            var boundary = await CatchUpAsync(lease, scope, tables, ct).ConfigureAwait(false);
            var now = context.Clock.GetUtcNow();
            var set = names.ToHashSet(StringComparer.Ordinal);
            var served = requests.ToHashSet(StringComparer.Ordinal);
            context.UpdateState(s => s with
            {
                // Requests made while this run copied stay for the next one.
                PendingBackfill = s.PendingBackfill.Where(p => !served.Contains(p)).ToArray(),
                Copy = s.Copy! with
                {
                    Tables = s.Copy.Tables.Select(t => set.Contains(t.Source) ? t with { State = TableCopyState.Copied, SnapshotLsn = boundary.ToString(), EndedAt = now } : t).ToArray(),
                },
            });
            LogHandedOver(task.Name, names.Count, boundary.ToString());
        }
    }

    /// <summary>Adds columns the source has and the destination table lacks (the rerun's schema step).</summary>
    private async Task AddMissingColumnsAsync(NpgsqlConnection dst, TaskScope scope, IReadOnlyList<ScopedTable> tables, CancellationToken ct)
    {
        foreach (var table in tables.Where(t => t.Source.IsTable))
        {
            var present = new HashSet<string>(StringComparer.Ordinal);
            await using (var command = new NpgsqlCommand("SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped", dst))
            {
                command.Parameters.AddWithValue(table.Destination.Sql);
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                while (await reader.ReadAsync(ct).ConfigureAwait(false)) present.Add(reader.GetString(0));
            }
            foreach (var column in table.Columns.Where(c => c.Generated is null && !present.Contains(table.DestinationColumn(c.Name))))
            {
                var name = table.DestinationColumn(column.Name);
                await dst.ExecuteAsync($"ALTER TABLE {table.Destination.Sql} ADD COLUMN IF NOT EXISTS {Identifier.Quote(name)} {SchemaBuilder.ColumnType(scope, column)}", ct).ConfigureAwait(false);
                context.Event(SyncEventKind.Ddl, SyncEventLevel.Information, $"Column {name} ({SchemaBuilder.ColumnType(scope, column)}) added to {table.Destination}: the source has it.");
            }
        }
    }

    /// <summary>Empties the tables the destination had (keeping tables someone else owned as they are) and plans their ranges.</summary>
    private async Task<List<CopyJob>> PrepareAsync(TaskScope scope, IReadOnlyList<ScopedTable> tables, IReadOnlySet<QualifiedName> added, IReadOnlySet<QualifiedName> userTables,
        CopyProgressTable progressTable, NpgsqlDataSource source, NpgsqlDataSource destination, int workers, CancellationToken ct)
    {
        var task = context.Definition;
        int blockSize;
        await using (var src = await ConnectionFactory.OpenAsync(source, ServerSide.Source, task.Source, ct).ConfigureAwait(false))
            blockSize = await src.ScalarAsync<int>("SELECT current_setting('block_size')::int", ct).ConfigureAwait(false);
        var previous = context.Store.ReadState(task.Name).Copy?.Tables.ToDictionary(t => t.Source) ?? [];
        var jobs = new List<CopyJob>();
        var progress = new List<TableProgress>();
        await using (var dst = await ConnectionFactory.OpenAsync(destination, ServerSide.Destination, task.Destination, ct).ConfigureAwait(false))
        {
            await SchemaMigrator.PrepareSessionAsync(dst, ct).ConfigureAwait(false);
            await progressTable.EnsureAsync(dst, ct).ConfigureAwait(false);
            foreach (var table in tables)
            {
                var key = table.Name.ToString();
                var preExisting = previous.GetValueOrDefault(key)?.PreExisting ?? userTables.Contains(table.Destination);
                await using (var transaction = await dst.BeginTransactionAsync(ct).ConfigureAwait(false))
                {
                    if (!preExisting) await EmptyAsync(dst, table, ct).ConfigureAwait(false);
                    await progressTable.ForgetAsync(dst, key, ct).ConfigureAwait(false);
                    await transaction.CommitAsync(ct).ConfigureAwait(false);
                }
                var ranges = CopyRangePlanner.Plan(table.Source.SizeBytes, blockSize, task.Options.SplitTableBytes, workers, scope.Catalog.ServerVersion);
                jobs.AddRange(ranges.Select(r => new CopyJob(table, r, preExisting, ranges.Count)));
                progress.Add(new TableProgress
                {
                    Source = key, Destination = table.Destination.ToString(), PreExisting = preExisting, State = TableCopyState.Pending,
                    EstimatedRows = (long)table.Source.EstimatedRows, EstimatedBytes = table.Source.SizeBytes, SnapshotLsn = null,
                    StartedAt = context.Clock.GetUtcNow(),
                    Ranges = ranges.Select(r => new RangeProgress
                    {
                        Index = r.Index, Lower = r.FirstBlock?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        Upper = r.EndBlock?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    }).ToArray(),
                });
            }
        }
        var keys = progress.Select(p => p.Source).ToHashSet(StringComparer.Ordinal);
        var created = added.Select(a => scope.Find(a)?.Destination.ToString()).Where(d => d is not null).Select(d => d!).ToList();
        context.UpdateState(s => s with
        {
            Copy = (s.Copy ?? new CopyProgress()) with
            {
                Tables = s.Copy?.Tables.Where(t => !keys.Contains(t.Source)).Concat(progress).ToArray() ?? progress.ToArray(),
                OwnedTables = (s.Copy?.OwnedTables ?? []).Union(created).Order(StringComparer.Ordinal).ToArray(),
            },
        });
        return jobs;
    }

    /// <summary>
    /// Empties a destination table inside the caller's transaction: nothing to do when it is empty already (a reset with
    /// -ClearDestination truncated it), else TRUNCATE, or DELETE when another table references it by a foreign key
    /// (the session runs as a replica, so the foreign key does not fire).
    /// </summary>
    internal static async Task EmptyAsync(NpgsqlConnection dst, ScopedTable table, CancellationToken ct)
    {
        if (!await dst.ScalarAsync<bool>($"SELECT EXISTS (SELECT 1 FROM ONLY {table.Destination.Sql})", ct).ConfigureAwait(false)) return;
        await dst.ExecuteAsync("SAVEPOINT empty_table", ct).ConfigureAwait(false);
        try
        {
            await dst.ExecuteAsync($"TRUNCATE ONLY {table.Destination.Sql}", ct).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState is "0A000" or "42809")
        {
            await dst.ExecuteAsync("ROLLBACK TO SAVEPOINT empty_table", ct).ConfigureAwait(false);
            await dst.ExecuteAsync("SAVEPOINT replica_role", ct).ConfigureAwait(false);
            try { await dst.ExecuteAsync("SET LOCAL session_replication_role = replica", ct).ConfigureAwait(false); }
            catch (PostgresException denied) when (denied.SqlState == "42501")
            {
                // Without the role the referencing rows must go first; the DELETE says which table holds them.
                await dst.ExecuteAsync("ROLLBACK TO SAVEPOINT replica_role", ct).ConfigureAwait(false);
            }
            await dst.ExecuteAsync($"DELETE FROM ONLY {table.Destination.Sql}", ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Applies the tables' changes from the temporary slot (which starts at the snapshot) until the stream can take them
    /// back; returns the position from which the stream applies them.
    /// </summary>
    private async Task<SyncLsn> CatchUpAsync(SnapshotLease lease, TaskScope scope, IReadOnlyList<ScopedTable> tables, CancellationToken ct)
    {
        var task = context.Definition;
        var names = tables.Select(t => t.Name.ToString()).ToList();
        var wanted = tables.ToDictionary(t => t.Name);
        var applyBuilder = new ConnectionFactory(context.Store.Secrets).Build(task.Destination, $"sync:{task.Name}:backfill");
        applyBuilder.Pooling = false;
        await using var applySource = BinaryParameters.DataSource(applyBuilder.ConnectionString);
        await using var destination = applySource.CreateConnection();
        await destination.OpenAsync(ct).ConfigureAwait(false);
        await RealtimeSync.PrepareApplySessionAsync(destination, ct).ConfigureAwait(false);
        var applier = new ChangeApplier(destination, Checkpoint.None, task.Name, context.Clock) { SetMode = false };
        var destinationTypes = await DestinationTypes.ReadAsync(destination, scope, tables, ct).ConfigureAwait(false);
        var (binary, _) = StreamFormat.Choose(lease.Replication!.PostgreSqlVersion.Major, tables, StreamFormat.ForcedText(task, context.StreamInText), destinationTypes);
        var reader = new PgOutputReader(lease.Replication!, lease.SlotName!, TaskNaming.PublicationName(task), messages: true, binary: binary);
        var relations = new Dictionary<uint, ApplyTable?>();
        var policy = task.Options.ConflictPolicy;
        var inTransaction = false;
        var inSource = false;
        var commitLsn = SyncLsn.Invalid;
        var catchUp = coordinator.BeginCatchUp(names);
        var started = context.Clock.GetTimestamp();
        var barrier = false;
        async Task<SyncLsn> FinishAsync()
        {
            await applier.CommitGroupAsync(WriteConflicts, ct).ConfigureAwait(false);
            BackfillCoordinator.Finish(catchUp);
            return catchUp.AgreedBoundary;
        }
        void Missed(SyncLsn boundary, SyncLsn stream)
        {
            // The stream was ahead. Close behind it (or after trying for a while), ask it to wait at a barrier instead.
            if (barrier || !stream.IsValid) return;
            var behind = stream.Value > boundary.Value ? stream.Value - boundary.Value : 0;
            var trying = context.Clock.GetElapsedTime(started);
            if (behind > BarrierDistanceBytes && trying < BarrierAfter) return;
            barrier = true;
            coordinator.RequestBarrier(catchUp);
            context.Event(SyncEventKind.Progress, SyncEventLevel.Information,
                $"The table sync is {behind:N0} bytes of WAL behind the stream after {trying.TotalSeconds:N0} s; the stream takes its tables back at its next position and waits there until the table sync has applied what came before.");
        }
        try
        {
            await foreach (var next in reader.ReadAsync(null, ct).ConfigureAwait(false))
            {
                switch (next)
                {
                    case BeginEvent begin:
                        if (!coordinator.MayApply(catchUp, begin.CommitLsn)) return await FinishAsync().ConfigureAwait(false);
                        commitLsn = begin.CommitLsn;
                        inTransaction = false;
                        inSource = true;
                        break;
                    case RelationEvent relation:
                        relations[relation.RelationId] = wanted.TryGetValue(new QualifiedName(relation.Schema, relation.Name), out var scoped)
                            ? new ApplyTable(relation, scoped, scope, lease.Lsn, destinationTypes)
                            : null;
                        break;
                    case RowEvent row:
                        if (relations.GetValueOrDefault(row.RelationId) is not { } table || commitLsn < table.SnapshotLsn) break;
                        var statement = StatementBuilder.For(table, row, policy);
                        if (statement is null) break;
                        if (!inTransaction) applier.BeginSourceTransaction();
                        inTransaction = true;
                        await applier.AddAsync(statement, ct).ConfigureAwait(false);
                        break;
                    case TruncateEvent truncate:
                        var truncated = StatementBuilder.Truncated(truncate, relations, commitLsn);
                        if (truncated.Count == 0) break;
                        if (!inTransaction) applier.BeginSourceTransaction();
                        inTransaction = true;
                        await applier.TruncateAsync(truncated, truncate.Cascade, truncate.RestartIdentity, ct).ConfigureAwait(false);
                        break;
                    case CommitEvent commit:
                        if (inTransaction) applier.EndSourceTransaction(commit);
                        inTransaction = false;
                        inSource = false;
                        // Source transactions are grouped into destination transactions as the stream does; once a group is
                        // committed (or none is open), everything that committed up to here is applied and the stream may
                        // take over after it.
                        if (applier.GroupOpen && !applier.ShouldCommit(streamIdle: false)) break;
                        await applier.CommitGroupAsync(WriteConflicts, ct).ConfigureAwait(false);
                        if (barrier) break;
                        var after = new SyncLsn(commit.CommitLsn.Value + 1);
                        if (coordinator.TryHandOver(catchUp, after, out var streamAt)) return after;
                        Missed(after, streamAt);
                        break;
                    case HeartbeatEvent heartbeat:
                        // A transactional message sits inside its transaction: not a point between transactions.
                        if (inSource) break;
                        if (coordinator.ReachedBarrier(catchUp, heartbeat.Lsn)) return await FinishAsync().ConfigureAwait(false);
                        if (barrier) break;
                        await applier.CommitGroupAsync(WriteConflicts, ct).ConfigureAwait(false);
                        if (coordinator.TryHandOver(catchUp, heartbeat.Lsn, out var streamAtBeat)) return heartbeat.Lsn;
                        Missed(heartbeat.Lsn, streamAtBeat);
                        break;
                }
            }
        }
        catch (Exception e) when (StreamFormat.SourceCannotSend(e, binary, task.Name) is { } textRestart)
        {
            throw textRestart;
        }
        throw new SyncException(ErrorIds.SourceConnectionFailed, SyncErrorCategory.ConnectionError,
            $"The table sync stream of task '{task.Name}' ended unexpectedly.", task.Name, retriable: true);
    }

    /// <summary>How close behind the stream (in WAL bytes) the table sync asks it for a barrier.</summary>
    internal const ulong BarrierDistanceBytes = 16UL << 20;

    /// <summary>After how long trying to get ahead the table sync asks for a barrier however far behind it is.</summary>
    internal static readonly TimeSpan BarrierAfter = TimeSpan.FromSeconds(60);

    private void WriteConflicts(IReadOnlyList<TaskEvent> conflicts)
    {
        foreach (var conflict in conflicts) context.Store.AppendEvent(context.TaskName, conflict);
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Task {TaskName}: {Tables} tables copied again and handed back to the stream at {Lsn}")]
    private partial void LogHandedOver(string taskName, int tables, string lsn);
}
