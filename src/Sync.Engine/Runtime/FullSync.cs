using Microsoft.Extensions.Logging;
using Npgsql;
using Sync.Engine.Catalog;
using Sync.Engine.Connections;
using Sync.Engine.Diagnostics;
using Sync.Engine.Schema;
using Sync.Engine.Snapshot;
using Sync.Engine.Tasks;

namespace Sync.Engine.Runtime;

/// <summary>
/// The first half of a task (DESIGN.md, "Snapshot"): one consistent snapshot, the destination schema, the parallel
/// copy, then indexes, constraints, views and sequence values. Every step can be rerun after a crash: the schema
/// steps tolerate what exists, tables whose ranges all committed (per the destination's progress table) are kept,
/// and the others are emptied and copied again under a new snapshot with its own LSN.
/// </summary>
public sealed partial class FullSync(TaskRunContext context)
{
    private readonly ILogger _log = context.Loggers.CreateLogger<FullSync>();

    public static int DefaultWorkers => Math.Clamp(Environment.ProcessorCount * 2, 4, 16);

    public async Task RunAsync(CancellationToken ct)
    {
        var task = context.Definition;
        var workers = task.Options.CopyWorkers > 0 ? task.Options.CopyWorkers : DefaultWorkers;
        var factory = new ConnectionFactory(context.Store.Secrets);
        await using var source = factory.CreateDataSource(task.Source, $"sync:{task.Name}:copy", workers + 4);
        await using var destination = factory.CreateDataSource(task.Destination, $"sync:{task.Name}:copy", workers + 4);
        var state = context.Store.ReadState(task.Name);
        var firstRun = state.Copy?.SchemaMigratedAt is null;
        SetStage(firstRun ? SyncTaskStage.SchemaMigration : SyncTaskStage.FullInitialization);

        if (task.Mode == SyncTaskMode.FullIncremental && state.Stream?.SlotName is null)
        {
            // The publication must exist before the slot: pgoutput reads it as of each change's position.
            await using var src = await ConnectionFactory.OpenAsync(source, ServerSide.Source, task.Source, ct).ConfigureAwait(false);
            var current = ScopeResolver.Resolve(task, await CatalogReader.ReadAsync(src, includeFunctions: false, ct).ConfigureAwait(false));
            if ((await Stream.PublicationManager.EnsureAsync(src, task, current, ct).ConfigureAwait(false)).Heartbeat)
                context.UpdateState(s => s with { Stream = (s.Stream ?? new StreamProgress()) with { HeartbeatTable = true } });
            // A slot of the task's name that its state does not know was made by an attempt killed before it recorded
            // it. Nothing was copied under its snapshot (the slot is recorded before the copy starts), and that
            // snapshot died with its worker: the slot goes, and is made again with a snapshot of its own.
            var slot = TaskNaming.SlotName(task);
            if (await Stream.PublicationManager.UnrecordedSlotAsync(src, task, slot, ct).ConfigureAwait(false) is { } left)
            {
                await Stream.PublicationManager.DropSlotAsync(src, slot, ct).ConfigureAwait(false);
                context.Event(SyncEventKind.Warning, SyncEventLevel.Warning,
                    $"Replication slot {slot} on the source (at {left}) was made by an earlier attempt that ended before recording it; nothing was copied under it, so it was dropped and is made again.");
            }
        }
        var lease = await OpenSnapshotAsync(task, source, factory, state, ct).ConfigureAwait(false);
        var leaseReleased = false;
        try
        {
            TaskScope scope;
            int blockSize;
            await using (var catalogConnection = await ConnectionFactory.OpenAsync(source, ServerSide.Source, task.Source, ct).ConfigureAwait(false))
            {
                await lease.ImportAsync(catalogConnection, ct).ConfigureAwait(false);
                var catalog = await CatalogReader.ReadAsync(catalogConnection, ScopeResolver.IsDatabaseLevel(task), ct).ConfigureAwait(false);
                scope = ScopeResolver.Resolve(task, catalog);
                blockSize = await catalogConnection.ScalarAsync<int>("SELECT current_setting('block_size')::int", ct).ConfigureAwait(false);
            }
            foreach (var (obj, reason) in scope.Excluded)
                context.Event(SyncEventKind.Warning, SyncEventLevel.Warning, $"{obj} is not synchronized: {reason}.");

            await using var dst = await ConnectionFactory.OpenAsync(destination, ServerSide.Destination, task.Destination, ct).ConfigureAwait(false);
            await SchemaMigrator.PrepareSessionAsync(dst, ct).ConfigureAwait(false);
            // Tables the task listed in an earlier, interrupted attempt are its own; anything else already there is the user's.
            var ours = state.Copy?.OwnDestinationTables() ?? new HashSet<string>();
            var preExisting = firstRun
                ? (await FindExistingTablesAsync(dst, scope, ct).ConfigureAwait(false)).Where(t => !ours.Contains(t.ToString())).ToHashSet()
                : state.Copy!.Tables.Where(t => t.PreExisting).Select(t => QualifiedName.Parse(t.Destination)).ToHashSet();
            var plan = SchemaBuilder.Build(scope, preExisting);
            if (firstRun) await MigrateSchemaAsync(task, scope, plan, preExisting, dst, ct).ConfigureAwait(false);

            SetStage(SyncTaskStage.FullInitialization);
            var progressTable = new CopyProgressTable(task);
            await progressTable.EnsureAsync(dst, ct).ConfigureAwait(false);
            var jobs = await PlanCopyAsync(scope, progressTable, dst, lease.Lsn, blockSize, workers, ct).ConfigureAwait(false);
            var indexSteps = IndexStepsByTable(task, plan);
            var indexes = new IndexBuilder(destination, workers, ct);
            var postDataDone = context.Store.ReadState(task.Name).Copy?.PostDataAt is not null;
            void OnTableCopied(ScopedTable table)
            {
                IReadOnlyList<DdlStep>? steps;
                lock (indexSteps) { if (postDataDone || !indexSteps.Remove(table.Destination, out steps)) return; }
                indexes.Enqueue(steps);
            }
            // Tables kept from an earlier run get their indexes now (steps that exist already are skipped).
            foreach (var kept in scope.DataTables.Where(t => !jobs.Any(j => j.Table.Name == t.Name))) OnTableCopied(kept);
            await using (var tracker = new CopyStateTracker(context))
            {
                var limiter = new FlowLimiter(task.Options.FlowControl, context.Clock);
                void OnDefinitionChanged(TaskDefinition changed) => limiter.Update(changed.Options.FlowControl);
                context.DefinitionChanged += OnDefinitionChanged;
                try
                {
                    var copier = new SnapshotCopier(source, destination, progressTable, limiter, task.Options.ConflictPolicy, tracker, OnTableCopied);
                    var copy = copier.CopyAsync(lease, jobs, workers, ct);
                    await copier.AllImported.ConfigureAwait(false);
                    // Every copy connection holds the snapshot now; the exporting session (or the slot's replication
                    // connection) can go. The slot itself stays and keeps its consistent point.
                    await lease.DisposeAsync().ConfigureAwait(false);
                    leaseReleased = true;
                    await copy.ConfigureAwait(false);
                }
                finally
                {
                    context.DefinitionChanged -= OnDefinitionChanged;
                }
                tracker.Flush();
            }
            LogCopied(task.Name, jobs.Count);

            SetStage(SyncTaskStage.PostDataMigration);
            if (!postDataDone)
            {
                // What is left: indexes of tables without data of their own (partitioned parents), then wait for all.
                lock (indexSteps) { foreach (var steps in indexSteps.Values) indexes.Enqueue(steps); indexSteps.Clear(); }
                await indexes.CompletionAsync().ConfigureAwait(false);
            }
            await PostDataAsync(task, scope, plan, source, destination, dst, ct).ConfigureAwait(false);
        }
        finally
        {
            if (!leaseReleased) await lease.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<SnapshotLease> OpenSnapshotAsync(TaskDefinition task, NpgsqlDataSource source, ConnectionFactory factory, TaskState state, CancellationToken ct)
    {
        string? temporary = null;
        try
        {
            if (task.Mode == SyncTaskMode.Full) return await SnapshotLease.ExportAsync(source, ct).ConfigureAwait(false);
            var replication = factory.Build(task.Source, $"sync:{task.Name}:slot", replication: true).ConnectionString;
            if (state.Stream?.SlotName is null)
            {
                var lease = await SnapshotLease.CreateSlotAsync(replication, TaskNaming.SlotName(task), temporary: false, ct).ConfigureAwait(false);
                context.UpdateState(s => s with { Stream = (s.Stream ?? new StreamProgress()) with { SlotName = lease.SlotName, SlotConsistentLsn = lease.Lsn.ToString() } });
                context.Event(SyncEventKind.Progress, SyncEventLevel.Information,
                    $"Replication slot {lease.SlotName} created on the source at {lease.Lsn}; the copy reads the snapshot of that position.");
                return lease;
            }
            // The task's slot exists and keeps its position for the tables already copied; tables copied now get a
            // snapshot of their own from a temporary slot, and the stream applies their changes only after its LSN.
            temporary = TaskNaming.TemporarySlotName(task, Environment.ProcessId % 10000);
            return await SnapshotLease.CreateSlotAsync(replication, temporary, temporary: true, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (ConnectionFactory.IsConnectionFailure(e))
        {
            throw ConnectionFactory.ConnectionError(ServerSide.Source, task.Source, e);
        }
        catch (PostgresException e) when (task.Mode != SyncTaskMode.Full)
        {
            throw ConnectionFactory.SlotRefused(task.Source, temporary ?? TaskNaming.SlotName(task), e, task.Name);
        }
    }

    private async Task MigrateSchemaAsync(TaskDefinition task, TaskScope scope, SchemaPlan plan, IReadOnlySet<QualifiedName> preExisting, NpgsqlConnection dst, CancellationToken ct)
    {
        if (preExisting.Count > 0 && task.Options.ExistingTables == ExistingTablePolicy.Error)
            throw new SyncException(ErrorIds.DestinationTableExists, SyncErrorCategory.ResourceExists,
                $"Task '{task.Name}' cannot create {string.Join(", ", preExisting.Take(10))}{(preExisting.Count > 10 ? $" and {preExisting.Count - 10} more" : "")} on the destination: they already exist. " +
                "Drop them, map the tables to other names, or set -ExistingTable Ignore to copy into them.", task.Name);
        context.UpdateState(s => s with
        {
            Copy = new CopyProgress
            {
                StartedAt = context.Clock.GetUtcNow(),
                OwnedTables = (s.Copy?.OwnDestinationTables() ?? new HashSet<string>()).Union(s.Copy?.OwnedTables ?? [])
                    .Union(scope.DataTables.Where(t => !preExisting.Contains(t.Destination)).Select(t => t.Destination.ToString())).Order(StringComparer.Ordinal).ToArray(),
                Tables = scope.DataTables.Select(t => new TableProgress
                {
                    Source = t.Name.ToString(), Destination = t.Destination.ToString(), PreExisting = preExisting.Contains(t.Destination),
                    EstimatedRows = (long)t.Source.EstimatedRows, EstimatedBytes = t.Source.SizeBytes,
                }).ToArray(),
            },
        });
        await SchemaMigrator.RunAsync(dst, plan.Namespaces, ct).ConfigureAwait(false);
        await SchemaMigrator.RunInRoundsAsync(dst, plan.Types, ct).ConfigureAwait(false);
        await SchemaMigrator.RunInRoundsAsync(dst, plan.Functions, ct).ConfigureAwait(false);
        await SchemaMigrator.RunAsync(dst, plan.Sequences, ct).ConfigureAwait(false);
        await SchemaMigrator.RunAsync(dst, plan.Tables, ct).ConfigureAwait(false);
        foreach (var skipped in plan.Skipped)
            context.Event(SyncEventKind.Warning, SyncEventLevel.Warning, $"Not synchronized: {skipped}.");
        var now = context.Clock.GetUtcNow();
        context.UpdateState(s => s with { Copy = s.Copy! with { SchemaMigratedAt = now } });
        context.Event(SyncEventKind.Progress, SyncEventLevel.Information,
            $"Schema created on the destination: {plan.Tables.Count(t => t.Kind == "Table")} tables, {plan.Sequences.Count} sequences, {plan.Types.Count} types, {plan.Functions.Count} functions.");
    }

    private async Task<List<CopyJob>> PlanCopyAsync(TaskScope scope, CopyProgressTable progressTable, NpgsqlConnection dst, SyncLsn lsn,
        int blockSize, int workers, CancellationToken ct)
    {
        var task = context.Definition;
        var committed = await progressTable.ReadAsync(dst, ct).ConfigureAwait(false);
        var previous = context.Store.ReadState(task.Name).Copy?.Tables.ToDictionary(t => t.Source) ?? [];
        var jobs = new List<CopyJob>();
        var tables = new List<TableProgress>();
        foreach (var table in scope.DataTables)
        {
            var key = table.Name.ToString();
            var known = previous.GetValueOrDefault(key);
            var done = committed.GetValueOrDefault(key);
            if (known is { Ranges.Count: > 0 } && done is not null && known.Ranges.All(r => done.ContainsKey(r.Index)))
            {
                // Every range committed: keep the table, with the counts the destination recorded.
                tables.Add(known with
                {
                    State = TableCopyState.Copied,
                    Ranges = known.Ranges.Select(r => r with { State = TableCopyState.Copied, Rows = done[r.Index].Rows, Bytes = done[r.Index].Bytes }).ToArray(),
                    RowsCopied = done.Values.Sum(v => v.Rows), BytesCopied = done.Values.Sum(v => v.Bytes), SnapshotLsn = done.Values.First().Lsn,
                });
                continue;
            }
            var preExisting = known?.PreExisting ?? false;
            if (!preExisting) await EmptyTableAsync(dst, progressTable, table, ct).ConfigureAwait(false);
            else if (done is not null) await progressTable.ForgetAsync(dst, key, ct).ConfigureAwait(false);
            var ranges = CopyRangePlanner.Plan(table.Source.SizeBytes, blockSize, task.Options.SplitTableBytes, workers, scope.Catalog.ServerVersion);
            jobs.AddRange(ranges.Select(r => new CopyJob(table, r, preExisting, ranges.Count)));
            tables.Add(new TableProgress
            {
                Source = key, Destination = table.Destination.ToString(), PreExisting = preExisting, State = TableCopyState.Pending,
                EstimatedRows = (long)table.Source.EstimatedRows, EstimatedBytes = table.Source.SizeBytes, SnapshotLsn = lsn.ToString(),
                Ranges = ranges.Select(r => new RangeProgress
                {
                    Index = r.Index, Lower = r.FirstBlock?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Upper = r.EndBlock?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                }).ToArray(),
            });
        }
        context.UpdateState(s => s with { Copy = (s.Copy ?? new CopyProgress()) with { Tables = tables, SnapshotLsn = lsn.ToString(), CompletedAt = null } });
        if (jobs.Count > 0)
            context.Event(SyncEventKind.Progress, SyncEventLevel.Information,
                $"Copying {jobs.Select(j => j.Table.Name).Distinct().Count()} tables in {jobs.Count} ranges under the snapshot at {lsn}" +
                (tables.Count(t => t.State == TableCopyState.Copied) is var kept and > 0 ? $"; {kept} tables copied earlier are kept." : "."));
        return jobs;
    }

    private static async Task EmptyTableAsync(NpgsqlConnection dst, CopyProgressTable progressTable, ScopedTable table, CancellationToken ct)
    {
        await using var transaction = await dst.BeginTransactionAsync(ct).ConfigureAwait(false);
        await Backfill.TableSync.EmptyAsync(dst, table, ct).ConfigureAwait(false);
        await progressTable.ForgetAsync(dst, table.Name.ToString(), ct).ConfigureAwait(false);
        await transaction.CommitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Index and constraint steps per destination table; without -SyncIndexes only primary keys (and their index builds).</summary>
    internal static Dictionary<QualifiedName, IReadOnlyList<DdlStep>> IndexStepsByTable(TaskDefinition task, SchemaPlan plan)
    {
        var primaryKeys = plan.Indexes.Where(s => s.Kind == "PrimaryKey").Select(s => s.Object).ToHashSet();
        var steps = task.Options.SyncIndexes ? plan.Indexes : plan.Indexes.Where(s => primaryKeys.Contains(s.Object)).ToList();
        return steps.Where(s => s.Table is not null).GroupBy(s => s.Table!.Value).ToDictionary(g => g.Key, g => (IReadOnlyList<DdlStep>)g.ToList());
    }

    private async Task PostDataAsync(TaskDefinition task, TaskScope scope, SchemaPlan plan, NpgsqlDataSource source, NpgsqlDataSource destination,
        NpgsqlConnection dst, CancellationToken ct)
    {
        var state = context.Store.ReadState(task.Name);
        if (state.Copy?.PostDataAt is null)
        {
            await SchemaMigrator.RunAsync(dst, plan.ForeignKeys, ct).ConfigureAwait(false);
            await SchemaMigrator.RunInRoundsAsync(dst, plan.Views.Where(v => v.Kind != "Index").ToList(), ct).ConfigureAwait(false);
            if (task.Options.SyncIndexes) await SchemaMigrator.RunAsync(dst, plan.Views.Where(v => v.Kind == "Index"), ct).ConfigureAwait(false);
            await SchemaMigrator.RunAsync(dst, plan.Triggers, ct).ConfigureAwait(false);
        }
        var sequences = await SourceSequences.CopyValuesAsync(source, destination, scope, margin: 0, ct).ConfigureAwait(false);
        if (task.Options.PopulateMaterializedViews)
            foreach (var view in scope.Tables.Where(t => t.Source.Kind == 'm'))
            {
                await using var refresh = new NpgsqlCommand($"REFRESH MATERIALIZED VIEW {view.Destination.Sql}", dst);
                await refresh.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
        var now = context.Clock.GetUtcNow();
        context.UpdateState(s => s with { Copy = s.Copy! with { PostDataAt = s.Copy.PostDataAt ?? now, CompletedAt = now } });
        var copy = context.Store.ReadState(task.Name).Copy!;
        context.Event(SyncEventKind.StageChanged, SyncEventLevel.Information,
            $"Full initialization complete: {copy.Tables.Count} tables, {copy.RowsCopied:N0} rows, {copy.BytesCopied:N0} bytes; " +
            $"{plan.Indexes.Count} indexes and constraints, {plan.ForeignKeys.Count} foreign keys, {plan.Views.Count(v => v.Kind != "Index")} views, {sequences} sequence values set.");
    }

    private static async Task<HashSet<QualifiedName>> FindExistingTablesAsync(NpgsqlConnection dst, TaskScope scope, CancellationToken ct)
    {
        var existing = new HashSet<QualifiedName>();
        await using var command = new NpgsqlCommand(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m','f')", dst);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var wanted = scope.Tables.Select(t => t.Destination).ToHashSet();
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            var name = new QualifiedName(reader.GetString(0), reader.GetString(1));
            if (wanted.Contains(name)) existing.Add(name);
        }
        return existing;
    }

    private void SetStage(SyncTaskStage stage)
    {
        var previous = context.Store.ReadState(context.TaskName).Stage;
        if (previous == stage) return;
        context.UpdateState(s => s with { Stage = stage });
        context.Event(SyncEventKind.StageChanged, SyncEventLevel.Information, $"Stage {stage}.");
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Task {TaskName}: copied {Jobs} ranges")]
    private partial void LogCopied(string taskName, int jobs);
}
