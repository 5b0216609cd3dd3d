using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sync.Engine.Connections;
using Sync.Engine.Diagnostics;
using Sync.Engine.Runtime;
using Sync.Engine.Store;

namespace Sync.Engine.Tasks;

/// <summary>
/// The engine's API for the cmdlets: every operation on a task goes through here, so the cmdlets only bind
/// parameters and write objects, and everything here is tested without PowerShell.
/// </summary>
public sealed partial class TaskService
{
    private static readonly TimeSpan WorkerStartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan WorkerStopTimeout = TimeSpan.FromSeconds(30);
    /// <summary>Fifteen missed heartbeats (WorkerHost writes one every two seconds).</summary>
    public static readonly TimeSpan UnresponsiveAfter = TimeSpan.FromSeconds(30);

    public TaskService(ITaskStore store, ILoggerFactory? loggers = null, TimeProvider? clock = null)
    {
        Store = store;
        Loggers = loggers ?? NullLoggerFactory.Instance;
        Clock = clock ?? TimeProvider.System;
        Connections = new ConnectionFactory(store.Secrets);
    }

    /// <summary>
    /// A service whose log messages go to <paramref name="write"/> (a cmdlet's Verbose and Debug streams). No logging
    /// type appears in this signature: the caller may run where another version of them is loaded.
    /// </summary>
    public static TaskService ForCaller(ITaskStore store, Action<CallerMessageLevel, string> write, CallerMessageLevel minimum) =>
        new(store, new SingleProviderLoggerFactory(new CallbackLoggerProvider(write, minimum)));

    public ITaskStore Store { get; }
    public ILoggerFactory Loggers { get; }
    public TimeProvider Clock { get; }
    public ConnectionFactory Connections { get; }

    /// <summary>Who is asking, for the event log: user@host.</summary>
    public static string Operator => $"{Environment.UserName}@{Environment.MachineName}";

    public EndpointDefinition Seal(EndpointInput endpoint) => endpoint.Seal(Store.Secrets);

    /// <summary>Creates a task: validates the definition built by <paramref name="configure"/>, seals passwords, stores it.</summary>
    public TaskInfo Create(string name, EndpointInput source, EndpointInput destination, Func<TaskDefinition, TaskDefinition>? configure = null)
    {
        var now = Clock.GetUtcNow();
        var definition = new TaskDefinition
        {
            Id = TaskNaming.NewId(), Name = name, Source = Seal(source), Destination = Seal(destination), CreatedAt = now, ModifiedAt = now, Revision = 1,
        };
        if (configure is not null) definition = configure(definition) with { Id = definition.Id, Name = name, CreatedAt = now, ModifiedAt = now, Revision = 1 };
        var errors = TaskValidator.Validate(definition).ToList();
        TaskValidator.ValidateScheduledStart(definition.ScheduledStart, now, errors);
        TaskValidator.ThrowIfAny(definition.Name, errors);
        var state = new TaskState { Status = SyncTaskStatus.Created, UpdatedAt = now };
        Store.CreateTask(definition, state);
        Store.AppendEvent(definition.Name, new TaskEvent
        {
            Time = now, Kind = SyncEventKind.Operator, Message = $"Task created by {Operator} ({definition.Mode}, {definition.Source} to {definition.Destination}).",
        });
        return new TaskInfo(definition, state, WorkerLiveness.None);
    }

    /// <summary>Creates a task from cmdlet parameters; <see cref="TaskChanges.Source"/> and <see cref="TaskChanges.Destination"/> are required.</summary>
    public TaskInfo Create(string name, TaskChanges changes)
    {
        if (changes.Source is null || changes.Destination is null)
            TaskValidator.ThrowIfAny(name, [new ValidationError(changes.Source is null ? "Source" : "Destination", "is required")]);
        var rest = changes with { Source = null, Destination = null };
        return Create(name, changes.Source!, changes.Destination!, d => rest.ApplyTo(d, Store.Secrets));
    }

    /// <summary>Applies cmdlet parameters to an existing task (see <see cref="Update(string, Func{TaskDefinition, TaskDefinition})"/>).</summary>
    public TaskInfo Update(string name, TaskChanges changes) => Update(name, d => changes.ApplyTo(d, Store.Secrets));

    public TaskInfo Get(string name)
    {
        var stored = Store.FindTaskName(name) ?? throw SyncException.NotFound(name);
        var definition = Store.ReadDefinition(stored);
        var state = Store.ReadState(stored);
        return new TaskInfo(definition, state, Liveness(stored, state)) { LastEventAt = Store.LastEventTime(stored) };
    }

    /// <summary>
    /// Tasks matching every filter given. A task whose files are damaged is reported through
    /// <paramref name="onError"/> and skipped; the others are still returned.
    /// </summary>
    public IReadOnlyList<TaskInfo> Query(TaskQuery query, Action<SyncException> onError)
    {
        var result = new List<TaskInfo>();
        var patterns = query.Names?.Select(Wildcard.ToRegex).ToArray();
        foreach (var name in Store.ListTaskNames())
        {
            if (patterns is not null && !patterns.Any(p => p.IsMatch(name))) continue;
            TaskInfo task;
            try { task = Get(name); }
            catch (SyncException e) { onError(e); continue; }
            if (query.Ids is not null && !query.Ids.Contains(task.Definition.Id, StringComparer.OrdinalIgnoreCase)) continue;
            if (query.Statuses is not null && !query.Statuses.Contains(task.State.Status)) continue;
            if (query.Tags is not null && !query.Tags.All(t => HasTag(task.Definition, t))) continue;
            result.Add(task);
        }
        return result;
    }

    private static bool HasTag(TaskDefinition task, string tag)
    {
        var eq = tag.IndexOf('=');
        if (eq < 0) return task.Tags.Keys.Any(k => Wildcard.IsMatch(tag, k));
        var (key, value) = (tag[..eq], tag[(eq + 1)..]);
        return task.Tags.Any(kv => Wildcard.IsMatch(key, kv.Key) && Wildcard.IsMatch(value, kv.Value));
    }

    /// <summary>
    /// Edits a task. A running task accepts only flow-control changes (applied by its worker without a restart);
    /// any other change needs the task stopped or paused first. Prechecks become stale and must run again.
    /// </summary>
    public TaskInfo Update(string name, Func<TaskDefinition, TaskDefinition> edit)
    {
        var current = Get(name);
        var edited = edit(current.Definition);
        var now = Clock.GetUtcNow();
        var next = edited with
        {
            Id = current.Definition.Id, Name = current.Definition.Name, CreatedAt = current.Definition.CreatedAt,
            ModifiedAt = now, Revision = current.Definition.Revision + 1, SchemaVersion = TaskDefinition.CurrentSchemaVersion,
        };
        var errors = TaskValidator.Validate(next).ToList();
        if (next.ScheduledStart != current.Definition.ScheduledStart)
            TaskValidator.ValidateScheduledStart(next.ScheduledStart, now, errors);
        TaskValidator.ThrowIfAny(current.Name, errors);
        var onlyFlowControl = current.Definition with { Options = current.Definition.Options with { FlowControl = next.Options.FlowControl } } ==
                              next with { ModifiedAt = current.Definition.ModifiedAt, Revision = current.Definition.Revision };
        var onlyLiveChanges = current.Definition with { Options = current.Definition.Options with { FlowControl = next.Options.FlowControl }, Selection = next.Selection } ==
                              next with { ModifiedAt = current.Definition.ModifiedAt, Revision = current.Definition.Revision };
        if (current.IsRunning && !onlyLiveChanges)
            throw new SyncException(ErrorIds.SyncTaskAlreadyRunning, SyncErrorCategory.ResourceBusy,
                $"Task '{current.Name}' is running (worker process {current.State.Worker?.ProcessId}); only its flow control and table selection can change while it runs. " +
                "Suspend or stop it first (Suspend-SyncTask, Stop-SyncTask).", current.Name);
        if (current.IsRunning && !onlyFlowControl && (current.Definition.Mode == SyncTaskMode.Full || current.State.Stage != SyncTaskStage.RealtimeSync))
            throw new SyncException(ErrorIds.SyncTaskInvalidState, SyncErrorCategory.InvalidOperation,
                $"Task '{current.Name}' is in its {current.State.Stage} stage; tables are added to or removed from a running task only while it streams " +
                "(after the full copy of a FullIncremental task, or an Incremental task). Wait for it (Wait-SyncTask -Until FullSyncComplete), or suspend it first.", current.Name);
        Store.WriteDefinition(next, current.Definition.Revision);
        if (current.IsRunning)
            Store.AddControlRequest(current.Name, ControlAction.Reload, Operator);
        else if (!onlyFlowControl && current.State.Status == SyncTaskStatus.Ready)
            Store.UpdateState(current.Name, s => s with { Status = SyncTaskStatus.Created });
        Store.AppendEvent(current.Name, new TaskEvent
        {
            Time = now, Kind = SyncEventKind.Operator,
            Message = onlyFlowControl ? $"Flow control changed by {Operator}."
                : current.IsRunning ? $"Table selection of the running task changed by {Operator} (revision {next.Revision}): added tables are copied and join the stream, removed ones leave it."
                : $"Task definition changed by {Operator} (revision {next.Revision}).",
        });
        return Get(current.Name);
    }

    /// <summary>What removing the task would do, for -WhatIf and the confirmation prompt.</summary>
    public IReadOnlyList<string> DescribeRemoval(TaskInfo task)
    {
        var actions = new List<string>();
        if (task.IsRunning) actions.Add($"stop worker process {task.State.Worker?.ProcessId} at once");
        if (task.State.StartedAt is not null)
            actions.AddRange(ServerObjectCleaner.ExpectedObjects(task.Definition, "", task.State.Stream?.HeartbeatTable == true).Select(o =>
                $"drop {o.Kind} {o.Name} on the {o.Side.ToString().ToLowerInvariant()} {o.Endpoint} if it exists"));
        actions.Add($"delete the task's files in {Store.Location}");
        return actions;
    }

    /// <summary>
    /// Removes a task and everything it created on its servers. A running task is refused unless
    /// <paramref name="force"/>, which stops its worker at once. If server objects cannot be removed, the task is
    /// kept (so the removal can be retried) unless <paramref name="force"/>, which removes it anyway and reports
    /// what was left with the SQL to remove it.
    /// </summary>
    public async Task<CleanupReport> RemoveAsync(string name, bool force, CancellationToken cancellationToken)
    {
        var task = Get(name);
        if (task.IsRunning)
        {
            if (!force)
                throw new SyncException(ErrorIds.SyncTaskAlreadyRunning, SyncErrorCategory.ResourceBusy,
                    $"Task '{task.Name}' is running (worker process {task.State.Worker?.ProcessId}). Stop it with Stop-SyncTask, or use Remove-SyncTask -Force to stop and remove it.",
                    task.Name);
            await StopWorkerAsync(task, ControlAction.StopForce, cancellationToken).ConfigureAwait(false);
        }
        var report = new CleanupReport();
        if (task.State.StartedAt is not null)
        {
            report = await new ServerObjectCleaner(Connections).RemoveAllAsync(task.Definition, cancellationToken, task.State.Stream?.HeartbeatTable == true).ConfigureAwait(false);
            LogCleanup(task.Name, report);
            if (!report.Complete && !force)
                throw new SyncException(ErrorIds.ServerError, SyncErrorCategory.ResourceUnavailable,
                    $"Task '{task.Name}' was kept because some of what it created could not be removed: " +
                    string.Join("; ", report.LeftBehind.Select(l => l.ToString())) +
                    ". Fix the cause and run Remove-SyncTask again, or use -Force to remove the task and clean up by hand.", task.Name);
        }
        using (var lease = Store.TryAcquireWorkerLease(task.Name))
        {
            if (lease is null)
                throw new SyncException(ErrorIds.SyncTaskAlreadyRunning, SyncErrorCategory.ResourceBusy,
                    $"Task '{task.Name}' was started again while it was being removed; stop it first.", task.Name);
        }
        Store.DeleteTask(task.Name);
        if (Store is FileTaskStore files)
        {
            var log = WorkerLauncher.LogPath(files.Root, task.Name);
            foreach (var file in new[] { log, log + ".1" })
                if (File.Exists(file)) File.Delete(file);
        }
        return report;
    }

    /// <summary>Runs the prechecks and records the outcome in the task's state (Created becomes Ready when they pass).</summary>
    public async Task<Precheck.PrecheckReport> RunPrechecksAsync(string name, CancellationToken cancellationToken)
    {
        var task = Get(name);
        var own = task.State.Copy?.OwnDestinationTables() ?? new HashSet<string>();
        var report = await new Precheck.PrecheckRunner(Connections).RunAsync(task.Definition, own, cancellationToken).ConfigureAwait(false);
        foreach (var check in report.Checks) LogCheck(Log, task.Name, check.Id, check.Outcome.ToString(), check.Message);
        LogPrechecks(Log, task.Name, report.SuccessRate, report.Checks.Count, report.Failures.Count(), report.Checks.Count(c => c.Outcome == PrecheckOutcome.Warning));
        var summary = new PrecheckSummary
        {
            At = report.At, SuccessRate = report.SuccessRate, DefinitionRevision = task.Definition.Revision,
            FailedChecks = report.Failures.Select(f => f.Id).ToArray(),
            WarningChecks = report.Checks.Where(c => c.Outcome == PrecheckOutcome.Warning).Select(c => c.Id).ToArray(),
        };
        Store.UpdateState(task.Name, s => s with
        {
            Precheck = summary,
            Status = s.Status is SyncTaskStatus.Created or SyncTaskStatus.Ready ? (report.Passed ? SyncTaskStatus.Ready : SyncTaskStatus.Created) : s.Status,
        });
        Store.AppendEvent(task.Name, new TaskEvent
        {
            Time = Clock.GetUtcNow(), Kind = SyncEventKind.Precheck, Level = report.Passed ? SyncEventLevel.Information : SyncEventLevel.Warning,
            Message = report.Passed
                ? $"Prechecks passed ({report.Checks.Count} checks, {summary.WarningChecks.Count} warnings)."
                : $"Prechecks failed ({report.SuccessRate}%): {string.Join(", ", summary.FailedChecks)}.",
        });
        return report;
    }

    /// <summary>
    /// Starts a task: prechecks first for a task that has not run yet (a failing check stops the start unless it is
    /// ignorable and named in <paramref name="ignoreChecks"/>), then the background worker. A paused, stopped or failed
    /// task resumes from what the destination recorded.
    /// </summary>
    public async Task<TaskInfo> StartAsync(string name, WorkerLaunchSpec spec, IReadOnlyCollection<string> ignoreChecks, CancellationToken cancellationToken)
    {
        var task = Get(name);
        ThrowIfRunning(task);
        if (task.State.Status == SyncTaskStatus.Completed)
            throw SyncException.InvalidState(task.Name, "start", "Completed", "Create a new task, or run it again with Reset-SyncTask.");
        if (task.State.Status == SyncTaskStatus.Stopped && task.Definition.Mode != SyncTaskMode.Full && task.State.Stream?.SlotName is null && task.State.StartedAt is not null)
            throw SyncException.InvalidState(task.Name, "start", "Stopped",
                "Stopping ended its stream and dropped its replication slot, so changes since then cannot be followed. Run it again with Reset-SyncTask.");
        if (task.State.Status is SyncTaskStatus.Created or SyncTaskStatus.Ready)
        {
            // Never started, or reset since: the prechecks must pass first.
            var report = await RunPrechecksAsync(task.Name, cancellationToken).ConfigureAwait(false);
            if (!report.PassesIgnoring(ignoreChecks))
            {
                var blocking = report.Failures.Where(f => !f.Ignorable || !ignoreChecks.Contains(f.Id, StringComparer.OrdinalIgnoreCase)).ToList();
                throw new SyncException(ErrorIds.PrecheckFailed, SyncErrorCategory.InvalidOperation,
                    $"Task '{task.Name}' cannot start: prechecks passed {report.SuccessRate}%. " +
                    string.Join(" ", blocking.Select(f => $"[{f.Id}{(f.Ignorable ? ", ignorable" : "")}] {f.Message}")) +
                    " Run Test-SyncTask for the remedies" + (blocking.All(f => f.Ignorable) ? $", or start with -IgnoreCheck {string.Join(",", blocking.Select(f => f.Id))}." : "."),
                    task.Name);
            }
        }
        return await LaunchWorkerAsync(task.Name, spec, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Continues a paused or failed task from its checkpoint; anything else is refused with its status.</summary>
    public Task<TaskInfo> ResumeAsync(string name, WorkerLaunchSpec spec, CancellationToken cancellationToken)
    {
        var task = Get(name);
        if (task.State.Status is not (SyncTaskStatus.Paused or SyncTaskStatus.Failed or SyncTaskStatus.Retrying))
            throw SyncException.InvalidState(task.Name, "resume", task.State.Status.ToString(), "Only paused or failed tasks resume; use Start-SyncTask to start one.");
        return StartAsync(task.Name, spec, [], cancellationToken);
    }

    /// <summary>Polls the task until <paramref name="condition"/> holds; fails when the task fails, or with WaitTimedOut.</summary>
    public Task<TaskInfo> WaitAsync(string name, WaitCondition condition, TimeSpan? timeout, TimeSpan latencyBound,
        Action<TaskInfo>? onPoll, CancellationToken cancellationToken) =>
        WaitAsync(name, WaitTarget.For(condition, latencyBound), timeout, onPoll, cancellationToken);

    /// <summary>
    /// Polls the task until it reaches <paramref name="target"/> (a condition, a stage reached or passed, a status); fails
    /// when the task fails or stops short of it, or with WaitTimedOut.
    /// </summary>
    public async Task<TaskInfo> WaitAsync(string name, WaitTarget target, TimeSpan? timeout, Action<TaskInfo>? onPoll, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var condition = target;
        while (true)
        {
            var task = Get(name);
            onPoll?.Invoke(task);
            var state = task.State;
            var verdict = target.Judge(task, Clock.GetUtcNow());
            if (verdict == WaitTarget.Verdict.Reached) return task;
            if (verdict == WaitTarget.Verdict.Unreachable)
            {
                var failure = state.Status == SyncTaskStatus.Failed ? state.LastError : null;
                throw new SyncException(failure?.ErrorId ?? ErrorIds.SyncTaskNotRunning, failure?.Category ?? SyncErrorCategory.InvalidOperation,
                    $"Task '{task.Name}' is {state.Status}{(task.Worker == WorkerLiveness.Dead ? " (its worker died)" : "")} and will not reach {condition}" +
                    (failure is { } e ? $": {e.Message}" : "."), task.Name);
            }
            if (timeout is { } t && clock.Elapsed > t)
                throw new SyncException(ErrorIds.WaitTimedOut, SyncErrorCategory.OperationTimeout,
                    $"Task '{task.Name}' did not reach {condition} within {t.TotalSeconds:0} s (status {state.Status}, stage {state.Stage}). It keeps running.", task.Name);
            await Task.Delay(500, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Launches the task's worker and returns once it holds the task (status Running), or fails with the
    /// worker's own last words when it dies first.
    /// </summary>
    public async Task<TaskInfo> LaunchWorkerAsync(string name, WorkerLaunchSpec spec, CancellationToken cancellationToken)
    {
        var task = Get(name);
        ThrowIfRunning(task);
        var root = (Store as FileTaskStore)?.Root ?? throw new NotSupportedException("Background workers need the file store.");
        var before = task.State.UpdatedAt;
        Store.UpdateState(task.Name, s => s with { Status = SyncTaskStatus.Starting, LastError = null });
        var logPath = WorkerLauncher.LogPath(root, task.Name);
        // A launch that fails gives the task back its status from before (a stale Starting becomes Created), unless a
        // worker took the task meanwhile.
        var previous = task.State.Status == SyncTaskStatus.Starting ? SyncTaskStatus.Created : task.State.Status;
        void GiveBackStatus() => Store.UpdateState(task.Name, s => s.Status == SyncTaskStatus.Starting && s.Worker is null ? s with { Status = previous } : s);
        int pid;
        try { pid = WorkerLauncher.Launch(spec, task.Name, root, logPath, WorkerLauncher.StreamsOnly(task.Definition.Mode, task.State)); }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            GiveBackStatus();
            throw new SyncException(ErrorIds.WorkerStartFailed, SyncErrorCategory.ResourceUnavailable,
                $"The worker for task '{task.Name}' could not be started ({spec.FileName}): {e.Message}", task.Name, inner: e);
        }
        LogLaunched(Log, task.Name, pid, logPath);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < WorkerStartTimeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var state = Store.ReadState(task.Name);
            // The record must be the new worker's: a killed one's stays in the state until the new one writes its own
            // (the lease is taken first), and returning then would show the dead worker's process id.
            if (state.Worker is { } w && (w.ProcessId, w.StartedAt) != (task.State.Worker?.ProcessId, task.State.Worker?.StartedAt) && Store.IsWorkerLeaseHeld(task.Name)) return Get(task.Name);
            if (state.Status is not SyncTaskStatus.Starting && state.UpdatedAt > before && state.Worker is null)
                return Get(task.Name); // it already ran to its end (a quick Full task or an immediate failure)
            if (pid > 0 && !WorkerLauncher.IsProcessAlive(pid) && !Store.IsWorkerLeaseHeld(task.Name))
            {
                state = Store.ReadState(task.Name);
                if (state.Status is not SyncTaskStatus.Starting) return Get(task.Name);
                GiveBackStatus();
                throw new SyncException(ErrorIds.WorkerStartFailed, SyncErrorCategory.ResourceUnavailable,
                    $"The worker for task '{task.Name}' exited before it took the task. Its log '{logPath}' ends with:{Environment.NewLine}{WorkerLauncher.Tail(logPath)}",
                    task.Name);
            }
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
        if (!Store.IsWorkerLeaseHeld(task.Name)) GiveBackStatus();
        throw new SyncException(ErrorIds.WorkerStartFailed, SyncErrorCategory.OperationTimeout,
            $"The worker for task '{task.Name}' (process {pid}) did not take the task within {WorkerStartTimeout.TotalSeconds} s. See its log '{logPath}'.", task.Name);
    }

    /// <summary>Asks the worker to stop (or pause) and, unless <paramref name="wait"/> is false, waits until it has.</summary>
    public async Task<TaskInfo> RequestStopAsync(string name, ControlAction action, bool wait, CancellationToken cancellationToken)
    {
        var task = Get(name);
        if (!task.IsRunning)
        {
            if (task.State.Status is SyncTaskStatus.Running or SyncTaskStatus.Starting or SyncTaskStatus.Retrying or SyncTaskStatus.Stopping)
            {
                // The worker died: record that instead of pretending it stopped cleanly.
                var now = Clock.GetUtcNow();
                Store.UpdateState(task.Name, s => s with
                {
                    Status = action == ControlAction.Pause ? SyncTaskStatus.Paused : SyncTaskStatus.Stopped, Worker = null,
                    LastError = new ErrorState { ErrorId = ErrorIds.WorkerStartFailed, Message = "The worker process had died; its last heartbeat was " + (s.Worker?.Heartbeat.ToString("u") ?? "never") + ".", At = now },
                });
                Store.AppendEvent(task.Name, new TaskEvent { Time = now, Kind = SyncEventKind.Operator, Level = SyncEventLevel.Warning, Message = $"{action} by {Operator}: the worker had died; status recorded without it." });
                // A forced stop ends the task's hold on the source even without its worker, as it does with one.
                if (action == ControlAction.StopForce && Store.ReadState(task.Name).Stream?.SlotName is not null && !Store.IsWorkerLeaseHeld(task.Name))
                    await Runtime.StreamTeardown.DropAsync(Store, task.Definition, Clock).ConfigureAwait(false);
                return Get(task.Name);
            }
            throw new SyncException(ErrorIds.SyncTaskNotRunning, SyncErrorCategory.InvalidOperation,
                $"Task '{task.Name}' is not running (status {task.State.Status}); there is nothing to {(action == ControlAction.Pause ? "suspend" : "stop")}.", task.Name);
        }
        if (!wait)
        {
            Store.AddControlRequest(task.Name, action, Operator);
            return Get(task.Name);
        }
        await StopWorkerAsync(task, action, cancellationToken).ConfigureAwait(false);
        return Get(task.Name);
    }

    private async Task StopWorkerAsync(TaskInfo task, ControlAction action, CancellationToken cancellationToken)
    {
        Store.AddControlRequest(task.Name, action, Operator);
        var clock = Stopwatch.StartNew();
        var timeout = action == ControlAction.Stop ? TimeSpan.FromMinutes(10) : WorkerStopTimeout;
        LogStopRequested(Log, task.Name, action.ToString(), task.State.Worker?.ProcessId, timeout.TotalSeconds);
        while (Store.IsWorkerLeaseHeld(task.Name))
        {
            if (clock.Elapsed > timeout)
            {
                if (action != ControlAction.StopForce)
                    throw new SyncException(ErrorIds.WaitTimedOut, SyncErrorCategory.OperationTimeout,
                        $"Task '{task.Name}' did not stop within {timeout.TotalSeconds:0} s; it is still working on the request. Use Stop-SyncTask -Force to stop it at once.", task.Name);
                LogKilling(Log, task.Name, task.State.Worker?.ProcessId);
                KillWorker(task);
                // Only once no worker holds the task: a worker that could not be killed (another host, a hung exit)
                // may still stream from the slot, and dropping it under the worker would lose the changes in between.
                if (!Store.IsWorkerLeaseHeld(task.Name) && Store.ReadState(task.Name).Stream?.SlotName is not null)
                    await Runtime.StreamTeardown.DropAsync(Store, task.Definition, Clock).ConfigureAwait(false);
                break;
            }
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    private void KillWorker(TaskInfo task)
    {
        if (task.State.Worker is not { } worker || !string.Equals(worker.HostName, Environment.MachineName, StringComparison.OrdinalIgnoreCase)) return;
        try
        {
            using var process = Process.GetProcessById(worker.ProcessId);
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
        catch (ArgumentException) { }
        catch (InvalidOperationException) { }
        Store.UpdateState(task.Name, s => s with { Status = SyncTaskStatus.Stopped, Worker = null });
        Store.AppendEvent(task.Name, new TaskEvent
        {
            Time = Clock.GetUtcNow(), Kind = SyncEventKind.Operator, Level = SyncEventLevel.Warning,
            Message = $"Worker process {worker.ProcessId} did not stop when asked and was killed by {Operator}.",
        });
    }

    public void ThrowIfRunning(TaskInfo task)
    {
        if (task.IsRunning)
            throw new SyncException(ErrorIds.SyncTaskAlreadyRunning, SyncErrorCategory.ResourceBusy,
                $"Task '{task.Name}' is already running in worker process {task.State.Worker?.ProcessId} on {task.State.Worker?.HostName}.", task.Name);
    }

    private WorkerLiveness Liveness(string name, TaskState state)
    {
        if (Store.IsWorkerLeaseHeld(name))
            return state.Worker is { } worker && Clock.GetUtcNow() - worker.Heartbeat > UnresponsiveAfter ? WorkerLiveness.Unresponsive : WorkerLiveness.Alive;
        return state.Status is SyncTaskStatus.Running or SyncTaskStatus.Retrying or SyncTaskStatus.Stopping || state.Worker is not null
            ? WorkerLiveness.Dead
            : WorkerLiveness.None;
    }
}
