using System.Diagnostics;
using Sync.Engine.Diagnostics;
using Sync.Engine.Runtime;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Runtime;

[Collection(PostgresCollection.Name)]
public sealed class WorkerLifecycleTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    private TaskService Service => new(_temp.Store);

    [Fact]
    public async Task WorkerTakesTheTaskBeatsAndStopsOnRequest()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        var service = Service;
        CreateLongRunning(service, "life-1", db);

        var started = await service.LaunchWorkerAsync("life-1", TestTasks.WorkerSpec, CancellationToken.None);

        Assert.Equal(WorkerLiveness.Alive, started.Worker);
        Assert.Equal(SyncTaskStatus.Running, started.State.Status);
        var pid = started.State.Worker!.ProcessId;
        // This suite runs the engine under the runtime settings copying workers get (engine.runsettings), and the worker has them.
        foreach (var (key, value) in WorkerLauncher.Tuning(streamsOnly: false))
        {
            Assert.Equal(value, Environment.GetEnvironmentVariable(key));
            if (OperatingSystem.IsLinux()) Assert.Contains($"{key}={value}", WorkerEnvironment(pid));
        }
        // A worker that copies does not get the streaming workers' settings (the collector budget, no profile-guided tier).
        if (OperatingSystem.IsLinux())
            foreach (var (key, value) in WorkerLauncher.StreamingTuning.Where(kv => Environment.GetEnvironmentVariable(kv.Key) is null))
                Assert.DoesNotContain($"{key}={value}", WorkerEnvironment(pid));
        var firstBeat = started.State.Worker.Heartbeat;
        await TestTasks.WaitUntilAsync(() => service.Get("life-1").State.Worker?.Heartbeat > firstBeat, TimeSpan.FromSeconds(20), "a newer heartbeat");

        var stopped = await service.RequestStopAsync("life-1", ControlAction.Stop, wait: true, CancellationToken.None);

        Assert.Equal(WorkerLiveness.None, stopped.Worker);
        Assert.Null(stopped.State.Worker);
        await TestTasks.WaitUntilAsync(() => !WorkerLauncher.IsProcessAlive(pid), TimeSpan.FromSeconds(20), "the worker process to exit");
        var events = _temp.Store.ReadEvents("life-1").Select(e => e.Event.Message).ToList();
        Assert.Contains(events, m => m.Contains($"Worker {pid}"));
        Assert.Contains(events, m => m.Contains("Stop requested by"));
    }

    [Fact]
    public void AWorkerNamedByPathRunsAnExecutableAsItIsAndADllThroughItsApphostOrDotnet()
    {
        var native = WorkerLaunchSpec.ForWorker("/opt/sync/Sync.Worker");
        Assert.Equal("/opt/sync/Sync.Worker", native.FileName);
        Assert.Empty(native.Arguments);
        // No apphost beside this dll: it runs through dotnet.
        var managed = WorkerLaunchSpec.ForWorker("/nowhere/Sync.Worker.dll");
        Assert.Equal("dotnet", Path.GetFileNameWithoutExtension(managed.FileName));
        Assert.Equal(["/nowhere/Sync.Worker.dll"], managed.Arguments);
        // This build's dll has its apphost beside it, which is started instead.
        var built = WorkerLaunchSpec.ForWorker(RepoPaths.WorkerDll);
        Assert.Equal(Path.ChangeExtension(RepoPaths.WorkerDll, OperatingSystem.IsWindows() ? ".exe" : null), built.FileName);
    }

    [Fact]
    public void TheLauncherGivesWorkersItsRuntimeSettingsUnlessTheCallerHasItsOwn()
    {
        var spec = TestTasks.WorkerSpec with { Environment = new Dictionary<string, string> { ["SYNC_EXTRA"] = "x" } };
        var bare = WorkerLauncher.WorkerEnvironment(spec, "t", "/store", "/store/logs/t.log", _ => null);
        foreach (var (key, value) in WorkerLauncher.Tuning(streamsOnly: false)) Assert.Equal(value, bare[key]);
        Assert.Equal("x", bare["SYNC_EXTRA"]);
        Assert.Equal("t", bare[WorkerLaunchSpec.TaskVariable]);
        Assert.Equal("/store", bare[WorkerLaunchSpec.StoreVariable]);
        Assert.Equal("/store/logs/t.log", bare["SYNC_WORKER_LOG"]);

        foreach (var key in WorkerLauncher.StreamingTuning.Keys) Assert.False(bare.ContainsKey(key), key);

        // A worker that only streams gets the streaming settings too; an admin's own value is inherited as it is.
        var streaming = WorkerLauncher.WorkerEnvironment(spec, "t", "/store", "/store/logs/t.log", _ => null, streamsOnly: true);
        foreach (var (key, value) in WorkerLauncher.RuntimeTuning.Concat(WorkerLauncher.StreamingTuning)) Assert.Equal(value, streaming[key]);
        // The measured settings themselves (docs/benchmarks.md): every worker recompiles at once without spinning; one
        // that only streams is tiered without the profile-guided tier, with the larger collector budget.
        Assert.Equal("0", bare["DOTNET_TC_CallCountingDelayMs"]);
        Assert.Equal("0", bare["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"]);
        Assert.False(bare.ContainsKey("DOTNET_TieredPGO"));
        Assert.Equal("0", streaming["DOTNET_TieredPGO"]);
        Assert.Equal("4000000", streaming["DOTNET_GCgen0size"]);
        Assert.Equal("0", streaming["DOTNET_TC_CallCountingDelayMs"]);
        Assert.False(streaming.ContainsKey("DOTNET_TieredCompilation"));
        var all = WorkerLauncher.Tuning(false).Keys.Concat(WorkerLauncher.Tuning(true).Keys).ToHashSet();
        var own = WorkerLauncher.WorkerEnvironment(spec, "t", "/store", "/store/logs/t.log", key => all.Contains(key) ? "7" : null, streamsOnly: true);
        foreach (var key in all) Assert.False(own.ContainsKey(key), key);

        var streamed = new TaskState { Stage = SyncTaskStage.RealtimeSync, Copy = new CopyProgress { CompletedAt = DateTimeOffset.UtcNow, Tables = [new TableProgress { Source = "public.t", Destination = "public.t", State = TableCopyState.Copied, SnapshotLsn = "0/16B3748" }] } };
        Assert.True(WorkerLauncher.StreamsOnly(SyncTaskMode.Incremental, new TaskState()));
        Assert.True(WorkerLauncher.StreamsOnly(SyncTaskMode.FullIncremental, streamed));
        Assert.False(WorkerLauncher.StreamsOnly(SyncTaskMode.FullIncremental, streamed with { Stage = SyncTaskStage.FullInitialization }));
        Assert.False(WorkerLauncher.StreamsOnly(SyncTaskMode.FullIncremental, new TaskState()));
        Assert.False(WorkerLauncher.StreamsOnly(SyncTaskMode.Full, streamed));
        // Copying queued for the resumed worker: a Restart-SyncTask request, or a table sync that did not finish.
        Assert.False(WorkerLauncher.StreamsOnly(SyncTaskMode.FullIncremental, streamed with { PendingBackfill = ["public.t"] }));
        Assert.False(WorkerLauncher.StreamsOnly(SyncTaskMode.FullIncremental, streamed with { Copy = streamed.Copy! with { Tables = [new TableProgress { Source = "public.t", Destination = "public.t", State = TableCopyState.Pending }] } }));
    }

    [Fact]
    public async Task ASecondStartIsRefusedWithTheRunningWorkersProcessId()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        var service = Service;
        CreateLongRunning(service, "life-2", db);
        var started = await service.LaunchWorkerAsync("life-2", TestTasks.WorkerSpec, CancellationToken.None);
        try
        {
            var e = await Assert.ThrowsAsync<SyncException>(() => service.LaunchWorkerAsync("life-2", TestTasks.WorkerSpec, CancellationToken.None));
            Assert.Equal(ErrorIds.SyncTaskAlreadyRunning, e.ErrorId);
            Assert.Contains(started.State.Worker!.ProcessId.ToString(), e.Message);

            // A worker started behind the store's back exits at once without touching the task.
            var spec = TestTasks.WorkerSpec;
            var direct = Process.Start(new ProcessStartInfo(spec.FileName, [.. spec.Arguments, "--task", "life-2", "--store", _temp.Root]) { RedirectStandardError = true })!;
            Assert.True(direct.WaitForExit(60_000));
            Assert.Equal(WorkerExitCode.AlreadyRunning, direct.ExitCode);
            Assert.Equal(started.State.Worker.ProcessId, service.Get("life-2").State.Worker!.ProcessId);
        }
        finally
        {
            await service.RequestStopAsync("life-2", ControlAction.StopForce, wait: true, CancellationToken.None);
        }
    }

    [Fact]
    public async Task AKilledWorkerIsShownDeadAndItsTaskCanBeStoppedAndRemoved()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        var service = Service;
        CreateLongRunning(service, "life-3", db);
        var started = await service.LaunchWorkerAsync("life-3", TestTasks.WorkerSpec, CancellationToken.None);

        using (var worker = Process.GetProcessById(started.State.Worker!.ProcessId))
        {
            worker.Kill();
            worker.WaitForExit(10_000);
        }

        await TestTasks.WaitUntilAsync(() => service.Get("life-3").Worker == WorkerLiveness.Dead, TimeSpan.FromSeconds(10), "the dead worker to show");
        var stopped = await service.RequestStopAsync("life-3", ControlAction.Stop, wait: true, CancellationToken.None);
        Assert.Equal(SyncTaskStatus.Stopped, stopped.State.Status);
        Assert.Contains("died", stopped.State.LastError!.Message);
        await service.RemoveAsync("life-3", force: false, CancellationToken.None);
        Assert.Empty(_temp.Store.ListTaskNames());
    }

    [Fact]
    public void AWorkerThatHoldsTheTaskButStoppedBeatingIsShownUnresponsiveAndStillCountsAsRunning()
    {
        var service = Service;
        TestTasks.CreateOffline(service, "life-beat");
        using var lease = _temp.Store.TryAcquireWorkerLease("life-beat");
        Assert.NotNull(lease);
        var beat = DateTimeOffset.UtcNow;
        _temp.Store.UpdateState("life-beat", s => s with
        {
            Status = SyncTaskStatus.Running, Worker = new WorkerInfo { ProcessId = Environment.ProcessId, HostName = Environment.MachineName, StartedAt = beat, Heartbeat = beat },
        });
        Assert.Equal(WorkerLiveness.Alive, service.Get("life-beat").Worker);

        var later = new TaskService(_temp.Store, clock: new FixedClock(beat + TaskService.UnresponsiveAfter + TimeSpan.FromSeconds(1)));
        var stale = later.Get("life-beat");
        Assert.Equal(WorkerLiveness.Unresponsive, stale.Worker);
        Assert.True(stale.IsRunning);
        Assert.Equal(ErrorIds.SyncTaskAlreadyRunning, Assert.Throws<SyncException>(() => later.ThrowIfRunning(stale)).ErrorId);
        Assert.NotNull(stale.LastEventAt);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    [Fact]
    public async Task RemovingARunningTaskNeedsForce()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        var service = Service;
        CreateLongRunning(service, "life-4", db);
        var started = await service.LaunchWorkerAsync("life-4", TestTasks.WorkerSpec, CancellationToken.None);

        var refused = await Assert.ThrowsAsync<SyncException>(() => service.RemoveAsync("life-4", force: false, CancellationToken.None));
        Assert.Equal(ErrorIds.SyncTaskAlreadyRunning, refused.ErrorId);
        Assert.Single(_temp.Store.ListTaskNames());

        var report = await service.RemoveAsync("life-4", force: true, CancellationToken.None);

        Assert.True(report.Complete, string.Join("; ", report.LeftBehind));
        Assert.Empty(_temp.Store.ListTaskNames());
        await TestTasks.WaitUntilAsync(() => !WorkerLauncher.IsProcessAlive(started.State.Worker!.ProcessId), TimeSpan.FromSeconds(20), "the worker process to exit");
    }

    [Fact]
    public async Task FlowControlCanChangeWhileRunningButNothingElse()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        var service = Service;
        CreateLongRunning(service, "life-5", db);
        await service.LaunchWorkerAsync("life-5", TestTasks.WorkerSpec, CancellationToken.None);
        try
        {
            var e = Assert.Throws<SyncException>(() => service.Update("life-5", new TaskChanges { Description = "x" }));
            Assert.Equal(ErrorIds.SyncTaskAlreadyRunning, e.ErrorId);
            // The selection changes only while the task streams, not during its full copy.
            var copying = Assert.Throws<SyncException>(() => service.Update("life-5", new TaskChanges { IncludeTables = ["x"] }));
            Assert.Equal(ErrorIds.SyncTaskInvalidState, copying.ErrorId);

            var updated = service.Update("life-5", new TaskChanges { RowsPerSecond = 1000 });

            Assert.Equal(1000, updated.Definition.Options.FlowControl.RowsPerSecond);
            await TestTasks.WaitUntilAsync(() => _temp.Store.ReadEvents("life-5").Any(x => x.Event.Message.StartsWith("Reload requested")),
                TimeSpan.FromSeconds(20), "the worker to take the reload request");
        }
        finally
        {
            await service.RequestStopAsync("life-5", ControlAction.StopForce, wait: true, CancellationToken.None);
        }
    }

    [Fact]
    public async Task OnlyPausedOrFailedTasksResume()
    {
        var service = Service;
        TestTasks.CreateOffline(service, "life-7");
        var e = await Assert.ThrowsAsync<SyncException>(() => service.ResumeAsync("life-7", TestTasks.WorkerSpec, CancellationToken.None));
        Assert.Equal(ErrorIds.SyncTaskInvalidState, e.ErrorId);
        Assert.Contains("Created", e.Message);
        Assert.Contains("Start-SyncTask", e.Message);
    }

    [Fact]
    public async Task StoppingATaskThatIsNotRunningSaysSo()
    {
        var service = Service;
        TestTasks.CreateOffline(service, "life-6");
        var e = await Assert.ThrowsAsync<SyncException>(() => service.RequestStopAsync("life-6", ControlAction.Stop, true, CancellationToken.None));
        Assert.Equal(ErrorIds.SyncTaskNotRunning, e.ErrorId);
        Assert.Contains("Created", e.Message);
    }

    [Fact]
    public async Task ALaunchedWorkerStreamsAndStopsByDraining()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY)");
        await db.OnDestinationAsync("CREATE TABLE t (id int PRIMARY KEY)");
        var service = Service;
        service.Create("life-stream", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.Incremental });
        var started = await service.LaunchWorkerAsync("life-stream", TestTasks.WorkerSpec, CancellationToken.None);
        // A worker that only streams gets the streaming runtime settings (unless this process has its own).
        if (OperatingSystem.IsLinux())
            foreach (var (key, value) in WorkerLauncher.StreamingTuning.Where(kv => Environment.GetEnvironmentVariable(kv.Key) is null))
                Assert.Contains($"{key}={value}", WorkerEnvironment(started.State.Worker!.ProcessId));
        try
        {
            // An Incremental task streams from the moment its slot exists.
            await TestTasks.WaitUntilAsync(() => service.Get("life-stream").State.Stream?.SlotName is not null, TimeSpan.FromSeconds(30), "the slot");
            await db.OnSourceAsync("INSERT INTO t SELECT generate_series(1, 10)");
            await TestTasks.WaitUntilAsync(() => db.DestinationScalarAsync<long>("SELECT count(*) FROM t").GetAwaiter().GetResult() == 10,
                TimeSpan.FromSeconds(30), "rows streamed by the worker process");
        }
        finally
        {
            await service.RequestStopAsync("life-stream", ControlAction.Stop, wait: true, CancellationToken.None);
        }
        Assert.Equal(SyncTaskStatus.Completed, service.Get("life-stream").State.Status);
    }

    /// <summary>The environment a process was started with (Linux).</summary>
    private static string[] WorkerEnvironment(int pid) => File.ReadAllText($"/proc/{pid}/environ").Split('\0');

    /// <summary>A task that keeps its worker busy for minutes: a throttled copy of 200,000 rows.</summary>
    private static void CreateLongRunning(TaskService service, string name, DatabasePair db)
    {
        db.OnSourceAsync("CREATE TABLE IF NOT EXISTS slow (id int PRIMARY KEY, v text); INSERT INTO slow SELECT g, 'v' FROM generate_series(1, 200000) g ON CONFLICT DO NOTHING")
            .GetAwaiter().GetResult();
        service.Create(name, TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.Full, Options = d.Options with { FlowControl = new FlowControl { RowsPerSecond = 1000 } } });
    }
}
