using Sync.Engine.Catalog;
using Sync.Engine.Connections;
using Sync.Engine.Diagnostics;

namespace Sync.Engine.Tasks;

/// <summary>What Restart-SyncTask will do (-WhatIf shows it).</summary>
public sealed record CopyAgainPlan
{
    public required string TaskName { get; init; }
    /// <summary>Source tables (schema.table) to copy again; all of the task's tables for a rerun.</summary>
    public IReadOnlyList<string> Tables { get; init; } = [];
    public bool Rerun { get; init; }
    public IReadOnlyList<string> Actions { get; init; } = [];
}

public sealed partial class TaskService
{
    /// <summary>
    /// Works out a Restart-SyncTask: <paramref name="tablePatterns"/> null is a rerun of the whole task (missing
    /// destination columns added, every table copied again), otherwise the task's tables matching the patterns.
    /// Only FullIncremental tasks past their full copy qualify: the others have no stream to keep running.
    /// </summary>
    public CopyAgainPlan PlanCopyAgain(string name, IReadOnlyList<string>? tablePatterns)
    {
        var task = Get(name);
        if (task.Definition.Mode != SyncTaskMode.FullIncremental)
            throw SyncException.InvalidState(task.Name, "copy tables again while streaming", task.Definition.Mode.ToString() + " mode",
                "Only FullIncremental tasks copy tables again while their stream runs; use Reset-SyncTask to run a Full task again.");
        if (task.State.Copy?.CompletedAt is null || task.State.Stream?.SlotName is null)
            throw SyncException.InvalidState(task.Name, "copy tables again while streaming", task.State.Status.ToString(),
                "The task has not finished its full copy, or its stream has ended (no replication slot). Start it (or Reset-SyncTask it) first.");
        if (task.State.Status is not (SyncTaskStatus.Running or SyncTaskStatus.Retrying or SyncTaskStatus.Paused or SyncTaskStatus.Failed or SyncTaskStatus.Starting))
            throw SyncException.InvalidState(task.Name, "copy tables again while streaming", task.State.Status.ToString(), "Start or resume the task first.");
        var known = task.State.Copy.Tables.Select(t => t.Source).ToList();
        IReadOnlyList<string> tables;
        if (tablePatterns is null) tables = known;
        else
        {
            List<NamePattern> patterns;
            try { patterns = tablePatterns.Select(NamePattern.ForTable).ToList(); }
            catch (FormatException e) { TaskValidator.ThrowIfAny(task.Name, [new ValidationError("Table", e.Message)]); throw; }
            var unmatched = patterns.Where(p => !known.Any(k => p.MatchesTable(QualifiedName.Parse(k)))).Select(p => p.Text).ToList();
            if (unmatched.Count > 0)
                TaskValidator.ThrowIfAny(task.Name, [new ValidationError("Table",
                    $"{string.Join(", ", unmatched)} matches none of the task's tables ({string.Join(", ", known.Take(10))}{(known.Count > 10 ? ", ..." : "")}); " +
                    "add a table to the task with Set-SyncTask -AddTable")]);
            tables = known.Where(k => patterns.Any(p => p.MatchesTable(QualifiedName.Parse(k)))).ToList();
        }
        var running = task.IsRunning ? "now" : "when the task is resumed";
        var actions = new List<string>();
        if (tablePatterns is null) actions.Add($"add destination columns that the source has and the destination lacks, {running}");
        actions.AddRange(tables.Select(t =>
        {
            var progress = task.State.Copy.Tables.First(x => x.Source == t);
            return progress.PreExisting
                ? $"copy {t} again into {progress.Destination} (kept: it existed before the task; rows meet the conflict policy {task.Definition.Options.ConflictPolicy})"
                : $"empty {progress.Destination} on the destination and copy {t} again under a new snapshot";
        }));
        actions.Add($"meanwhile the stream keeps applying the task's other tables; these rejoin it at their new snapshot's position, {running}");
        return new CopyAgainPlan { TaskName = task.Name, Tables = tables, Rerun = tablePatterns is null, Actions = actions };
    }

    /// <summary>Records a Restart-SyncTask request; a running worker picks it up at once, a paused or failed task when resumed.</summary>
    public TaskInfo RequestCopyAgain(string name, IReadOnlyList<string>? tablePatterns)
    {
        var plan = PlanCopyAgain(name, tablePatterns);
        var entries = plan.Rerun ? new[] { "*" } : plan.Tables.ToArray();
        Store.UpdateState(plan.TaskName, s => s with { PendingBackfill = s.PendingBackfill.Union(entries).ToArray() });
        Store.AppendEvent(plan.TaskName, new TaskEvent
        {
            Time = Clock.GetUtcNow(), Kind = SyncEventKind.Operator,
            Message = plan.Rerun
                ? $"Rerun requested by {Operator}: every table is copied again while the stream runs."
                : $"Copy again requested by {Operator}: {string.Join(", ", plan.Tables)}.",
        });
        var task = Get(plan.TaskName);
        if (task.IsRunning) Store.AddControlRequest(task.Name, ControlAction.Reload, Operator);
        return task;
    }
}

public sealed partial class TaskService
{
    /// <summary>
    /// What a Set-SyncTask would change, for -WhatIf: the changed settings, and when the selection changes, the concrete
    /// source tables that join or leave the task (resolved against the source's catalog when it answers) and what
    /// happens to them. Changes nothing.
    /// </summary>
    public async Task<IReadOnlyList<string>> PlanUpdateAsync(string name, TaskChanges changes, CancellationToken cancellationToken)
    {
        var current = Get(name);
        var next = changes.ApplyTo(current.Definition, Store.Secrets);
        var actions = new List<string>();
        if (next.Options != current.Definition.Options) actions.Add("change the task's options");
        if (next.Options.FlowControl != current.Definition.Options.FlowControl)
            actions.Add(current.IsRunning ? "apply the new flow control in the running worker at once" : "use the new flow control from the next start");
        if (next.Source != current.Definition.Source || next.Destination != current.Definition.Destination) actions.Add("change the task's endpoints");
        if (next.Selection == current.Definition.Selection && next.Mapping == current.Definition.Mapping) return actions.Count > 0 ? actions : ["change the task's definition"];
        var streaming = current.IsRunning && current.State.Stage == SyncTaskStage.RealtimeSync;
        try
        {
            await using var source = Connections.CreateDataSource(current.Definition.Source, $"sync:{current.Name}:plan", 1);
            await using var connection = await ConnectionFactory.OpenAsync(source, ServerSide.Source, current.Definition.Source, cancellationToken).ConfigureAwait(false);
            var catalog = await Catalog.CatalogReader.ReadAsync(connection, includeFunctions: false, cancellationToken).ConfigureAwait(false);
            var before = Schema.ScopeResolver.Resolve(current.Definition, catalog).DataTables.Select(t => t.Name.ToString()).ToHashSet(StringComparer.Ordinal);
            var after = Schema.ScopeResolver.Resolve(next, catalog).DataTables.Select(t => t.Name.ToString()).ToHashSet(StringComparer.Ordinal);
            actions.AddRange(after.Except(before).Order(StringComparer.Ordinal).Select(t => streaming
                ? $"add {t}: create it on the destination, copy it under its own snapshot while the stream runs, then stream it"
                : $"add {t}: it is copied and streamed from the next start or resume"));
            actions.AddRange(before.Except(after).Order(StringComparer.Ordinal).Select(t => streaming
                ? $"remove {t}: it leaves the publication and the stream; its destination rows are kept"
                : $"remove {t}: it is no longer synchronized from the next start or resume; its destination rows are kept"));
            if (after.SetEquals(before)) actions.Add("change the selection; the tables it takes stay the same");
        }
        catch (Exception e) when (e is SyncException or Npgsql.NpgsqlException or TimeoutException)
        {
            actions.Add($"change the table selection (the source could not be read to list the tables it adds or removes: {ErrorClassifier.Classify(e).Message})");
        }
        return actions;
    }
}
