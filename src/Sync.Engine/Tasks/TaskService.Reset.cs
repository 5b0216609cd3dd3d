using Npgsql;
using Sync.Engine.Catalog;
using Sync.Engine.Connections;
using Sync.Engine.Diagnostics;
using Sync.Engine.Runtime;
using Sync.Engine.Schema;

namespace Sync.Engine.Tasks;

/// <summary>What a reset will do, worked out against the servers without changing anything (-WhatIf shows it).</summary>
public sealed record ResetPlan
{
    public required string TaskName { get; init; }
    public SyncTaskMode Mode { get; init; }
    public bool ClearDestination { get; init; }
    /// <summary>Destination tables that will be truncated (only with -ClearDestination).</summary>
    public IReadOnlyList<string> TablesToTruncate { get; init; } = [];
    /// <summary>Server objects of the previous run that will be dropped.</summary>
    public IReadOnlyList<LeftoverObject> ObjectsToDrop { get; init; } = [];
    /// <summary>Every action, in order, as a sentence.</summary>
    public IReadOnlyList<string> Actions { get; init; } = [];
}

/// <summary>What a reset did.</summary>
public sealed record ResetReport
{
    public required TaskInfo Task { get; init; }
    public IReadOnlyList<string> Truncated { get; init; } = [];
    public CleanupReport Cleanup { get; init; } = new();
    public required string Message { get; init; }
}

public sealed partial class TaskService
{
    private static readonly SyncTaskStatus[] ResettableStatuses =
        [SyncTaskStatus.Paused, SyncTaskStatus.Failed, SyncTaskStatus.Stopped, SyncTaskStatus.Completed];

    /// <summary>
    /// Works out what <see cref="ResetAsync"/> would do, reading the servers but changing nothing: the tables it would
    /// truncate (those of the task's mapped tables that exist on the destination), the objects of the previous run it
    /// would drop, and what the next start does.
    /// </summary>
    public Task<ResetPlan> PlanResetAsync(string name, bool clearDestination, CancellationToken cancellationToken) =>
        PlanResetAsync(Get(name), clearDestination, holdsLease: false, cancellationToken);

    private async Task<ResetPlan> PlanResetAsync(TaskInfo task, bool clearDestination, bool holdsLease, CancellationToken cancellationToken)
    {
        if ((task.IsRunning && !holdsLease) || !ResettableStatuses.Contains(task.State.Status))
            throw SyncException.InvalidState(task.Name, "be reset", task.State.Status.ToString(),
                task.State.Status is SyncTaskStatus.Created or SyncTaskStatus.Ready
                    ? "It has not run since it was created or last reset; start it with Start-SyncTask."
                    : "Only paused, failed, stopped or completed tasks can be reset; suspend it first with Suspend-SyncTask (or stop it with Stop-SyncTask).");
        var definition = task.Definition;
        if (definition.Mode == SyncTaskMode.Incremental)
        {
            if (clearDestination)
                TaskValidator.ThrowIfAny(task.Name, [new ValidationError("ClearDestination",
                    "applies to tasks that copy data (Full, FullIncremental); an Incremental task only streams changes and keeps its destination as it is")]);
            var slot = TaskNaming.SlotName(definition);
            var exists = task.State.Stream?.SlotName is not null && await SlotExistsAsync(definition, slot, cancellationToken).ConfigureAwait(false);
            if (!exists)
                throw new SyncException(ErrorIds.ReplicationSlotMissing, SyncErrorCategory.ObjectNotFound,
                    $"Task '{task.Name}' cannot be reset: it streams changes only, and its replication slot {slot} no longer exists on the source {definition.Source}, " +
                    $"so the changes after {task.State.Stream?.CheckpointLsn ?? "its last checkpoint"} cannot be read again. " +
                    "To copy the data again and follow it from there, run Set-SyncTask -Mode FullIncremental and then Reset-SyncTask (add -ClearDestination to empty the tables first); " +
                    "to follow changes from now on and accept the gap, remove the task and create it again.", task.Name);
            return new ResetPlan
            {
                TaskName = task.Name, Mode = definition.Mode,
                Actions =
                [
                    $"keep replication slot {slot} on the source {definition.Source} and the destination's checkpoint ({task.State.Stream?.CheckpointLsn ?? "none yet"})",
                    "clear the task's last error and status; prechecks run again before it starts",
                    $"on Start-SyncTask, stream again from the slot's retained position, skipping what the destination's checkpoint already covers",
                ],
            };
        }

        var objects = task.State.StartedAt is null ? [] : ServerObjectCleaner.ExpectedObjects(definition, "left by the previous run", task.State.Stream?.HeartbeatTable == true);
        var truncate = clearDestination ? await ExistingMappedTablesAsync(task, cancellationToken).ConfigureAwait(false) : [];
        var actions = new List<string>();
        actions.AddRange(truncate.Select(t => $"truncate table {t} on the destination {definition.Destination}"));
        actions.AddRange(objects.Select(o => $"drop {o.Kind} {o.Name} on the {o.Side.ToString().ToLowerInvariant()} {o.Endpoint} if it exists"));
        actions.Add("forget the copy and stream progress; prechecks run again before the task starts");
        var tables = task.State.Copy?.Tables.Count ?? 0;
        actions.Add($"on Start-SyncTask, copy {(tables > 0 ? $"the {tables} tables" : "every selected table")} again under a new snapshot" +
                    (definition.Mode == SyncTaskMode.FullIncremental ? " from a new replication slot, then stream from that slot" : "") +
                    (clearDestination ? "" : "; rows already in the destination meet the task's conflict policy " +
                        $"({definition.Options.ConflictPolicy}) and its existing-table option ({definition.Options.ExistingTables})"));
        return new ResetPlan
        {
            TaskName = task.Name, Mode = definition.Mode, ClearDestination = clearDestination,
            TablesToTruncate = truncate, ObjectsToDrop = objects, Actions = actions,
        };
    }

    /// <summary>
    /// Resets a paused, failed, stopped or completed task (DRS "reset"): for Full and FullIncremental tasks the next
    /// start copies every table again under a new snapshot (and a new slot), after dropping what the previous run left
    /// on the servers and, with <paramref name="clearDestination"/>, truncating exactly the task's mapped tables. An
    /// Incremental task keeps its slot and streams again from it. Either way the prechecks must pass again.
    /// </summary>
    public async Task<ResetReport> ResetAsync(string name, bool clearDestination, CancellationToken cancellationToken)
    {
        var stored = Store.FindTaskName(name) ?? throw SyncException.NotFound(name);
        using var lease = Store.TryAcquireWorkerLease(stored)
            ?? throw new SyncException(ErrorIds.SyncTaskAlreadyRunning, SyncErrorCategory.ResourceBusy,
                $"Task '{stored}' is running; suspend or stop it before resetting it.", stored);
        var task = Get(stored);
        var plan = await PlanResetAsync(task, clearDestination, holdsLease: true, cancellationToken).ConfigureAwait(false);
        var now = Clock.GetUtcNow();
        if (plan.Mode == SyncTaskMode.Incremental)
        {
            Store.UpdateState(stored, s => s with { Status = SyncTaskStatus.Created, LastError = null, RetryingSince = null, Precheck = null, CompletedAt = null, PendingBackfill = [] });
            var text = $"Reset by {Operator}: streaming resumes from slot {task.State.Stream!.SlotName} when the task starts; prechecks run first.";
            Store.AppendEvent(stored, new TaskEvent { Time = now, Kind = SyncEventKind.Operator, Message = text });
            return new ResetReport { Task = Get(stored) with { Worker = WorkerLiveness.None }, Message = text };
        }

        // Truncate first: if it fails, nothing else has changed and the task can still be resumed as it was.
        if (plan.TablesToTruncate.Count > 0) await TruncateAsync(task, plan.TablesToTruncate, cancellationToken).ConfigureAwait(false);
        var cleanup = task.State.StartedAt is null
            ? new CleanupReport()
            : await new ServerObjectCleaner(Connections).RemoveAllAsync(task.Definition, cancellationToken, task.State.Stream?.HeartbeatTable == true).ConfigureAwait(false);
        LogCleanup(stored, cleanup);
        var previous = task.State.Copy;
        Store.UpdateState(stored, s => s with
        {
            Status = SyncTaskStatus.Created, Stage = SyncTaskStage.None, LastError = null, RetryingSince = null, Precheck = null, CompletedAt = null,
            Stream = null, PendingBackfill = [], LeftOnServers = cleanup.LeftBehind.Where(l => l.Side == ServerSide.Source).Select(l => l.ToString()).ToArray(),
            Copy = new CopyProgress
            {
                OwnedTables = (previous?.OwnDestinationTables() ?? new HashSet<string>()).Union(previous?.OwnedTables ?? []).Order(StringComparer.Ordinal).ToArray(),
                KeptRows = !clearDestination,
            },
        });
        var message = $"Reset by {Operator}: " +
                      (plan.TablesToTruncate.Count > 0 ? $"{plan.TablesToTruncate.Count} destination tables truncated; " : "the destination was not cleared; ") +
                      $"{cleanup.Removed.Count} objects of the previous run dropped" +
                      (cleanup.LeftBehind.Count > 0 ? $", {cleanup.LeftBehind.Count} could not be: {string.Join("; ", cleanup.LeftBehind)}" : "") +
                      ". The next start runs the prechecks and the full synchronization again.";
        Store.AppendEvent(stored, new TaskEvent
        {
            Time = now, Kind = SyncEventKind.Operator, Level = cleanup.Complete ? SyncEventLevel.Information : SyncEventLevel.Warning, Message = message,
        });
        return new ResetReport { Task = Get(stored) with { Worker = WorkerLiveness.None }, Truncated = plan.TablesToTruncate, Cleanup = cleanup, Message = message };
    }

    private async Task<bool> SlotExistsAsync(TaskDefinition task, string slot, CancellationToken ct)
    {
        await using var source = Connections.CreateDataSource(task.Source, $"sync:{task.Name}:reset", 1);
        await using var connection = await ConnectionFactory.OpenAsync(source, ServerSide.Source, task.Source, ct).ConfigureAwait(false);
        return await Stream.PublicationManager.SlotExistsAsync(connection, slot, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The task's mapped tables that exist on the destination: those its selection maps on the source now, or, when the
    /// source does not answer, those its state recorded that the selection still takes. A table removed from the task is
    /// never among them: its rows are kept.
    /// </summary>
    private async Task<IReadOnlyList<string>> ExistingMappedTablesAsync(TaskInfo task, CancellationToken ct)
    {
        var definition = task.Definition;
        var candidates = new HashSet<QualifiedName>();
        try
        {
            await using var source = Connections.CreateDataSource(definition.Source, $"sync:{definition.Name}:reset", 1);
            await using var src = await ConnectionFactory.OpenAsync(source, ServerSide.Source, definition.Source, ct).ConfigureAwait(false);
            var scope = ScopeResolver.Resolve(definition, await CatalogReader.ReadAsync(src, includeFunctions: false, ct).ConfigureAwait(false));
            foreach (var table in scope.DataTables) candidates.Add(table.Destination);
        }
        catch (Exception e) when (e is SyncException or NpgsqlException or TimeoutException && task.State.Copy is { Tables.Count: > 0 })
        {
            // The source is down: the tables the task recorded (and still selects) are what it copied.
            foreach (var table in task.State.Copy!.Tables.Where(t => ScopeResolver.Selects(definition, QualifiedName.Parse(t.Source))))
                candidates.Add(QualifiedName.Parse(table.Destination));
        }
        catch (NpgsqlException e)
        {
            throw ConnectionFactory.ConnectionError(ServerSide.Source, definition.Source, e);
        }
        try
        {
            await using var destination = Connections.CreateDataSource(definition.Destination, $"sync:{definition.Name}:reset", 1);
            await using var dst = await ConnectionFactory.OpenAsync(destination, ServerSide.Destination, definition.Destination, ct).ConfigureAwait(false);
            var existing = new List<string>();
            foreach (var table in candidates.OrderBy(t => t.ToString(), StringComparer.Ordinal))
                if (await dst.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass($1) AND relkind IN ('r', 'p'))", ct, table.Sql).ConfigureAwait(false))
                    existing.Add(table.ToString());
            return existing;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            throw ConnectionFactory.ConnectionError(ServerSide.Destination, definition.Destination, e);
        }
    }

    private async Task TruncateAsync(TaskInfo task, IReadOnlyList<string> tables, CancellationToken ct)
    {
        var definition = task.Definition;
        await using var destination = Connections.CreateDataSource(definition.Destination, $"sync:{definition.Name}:reset", 1);
        await using var dst = await ConnectionFactory.OpenAsync(destination, ServerSide.Destination, definition.Destination, ct).ConfigureAwait(false);
        try
        {
            // One statement, so tables that reference each other are emptied together. ONLY keeps inheritance children
            // that are not the task's out of it; a partitioned table is emptied with its partitions (they are its data).
            var items = new List<string>();
            foreach (var table in tables.Select(t => QualifiedName.Parse(t)))
            {
                var partitioned = await dst.ScalarAsync<bool>("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass($1)", ct, table.Sql).ConfigureAwait(false);
                items.Add(partitioned ? table.Sql : "ONLY " + table.Sql);
            }
            await dst.ExecuteAsync($"TRUNCATE {string.Join(", ", items)}", ct).ConfigureAwait(false);
            foreach (var table in tables) LogTruncated(Log, definition.Name, table);
        }
        catch (PostgresException e)
        {
            throw new SyncException(e.SqlState == "0A000" ? ErrorIds.SyncTaskInvalidState : ErrorIds.ServerError, SyncErrorCategory.InvalidOperation,
                $"Task '{task.Name}' was not reset: truncating its destination tables failed ({e.MessageText}{(e.Detail is { } d ? "; " + d : "")}). " +
                (e.SqlState == "0A000"
                    ? "A table outside the task references one of them through a foreign key; drop or empty that table, or reset without -ClearDestination."
                    : "Nothing was changed; fix the cause and reset again."), task.Name, inner: e);
        }
    }
}
