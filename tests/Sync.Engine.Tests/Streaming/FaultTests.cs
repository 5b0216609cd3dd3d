using System.Diagnostics;
using Sync.Engine.Diagnostics;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Streaming;

/// <summary>Faults during streaming; each ends with an equal comparison and no duplicate (the history table has no key).</summary>
[Collection(PostgresCollection.Name)]
public sealed class FaultTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task AWorkerKilledAtRandomMomentsUnderLoadLosesAndRepeatsNothing()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync(WriteLoad.Schema);
        var service = new TaskService(_temp.Store);
        service.Create("fault-kill", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        var random = new Random(42);
        await using (var load = new WriteLoad(db.SourceConnectionString))
        {
            var started = await service.LaunchWorkerAsync("fault-kill", TestTasks.WorkerSpec, CancellationToken.None);
            for (var round = 0; round < 3; round++)
            {
                await Task.Delay(random.Next(300, 2500));
                var pid = started.State.Worker?.ProcessId ?? throw new InvalidOperationException($"The launch returned without a worker: {Describe(service, "fault-kill")}");
                using (var worker = Process.GetProcessById(pid))
                {
                    worker.Kill();
                    await worker.WaitForExitAsync();
                }
                await TestTasks.WaitUntilAsync(() => service.Get("fault-kill").Worker == Sync.WorkerLiveness.Dead, TimeSpan.FromSeconds(10), "the dead worker to show");
                started = await service.LaunchWorkerAsync("fault-kill", TestTasks.WorkerSpec, CancellationToken.None);
            }
            await TestTasks.WaitUntilAsync(() => service.Get("fault-kill").State.Stage == SyncTaskStage.RealtimeSync, TimeSpan.FromSeconds(60),
                () => $"streaming; {Describe(service, "fault-kill")}");
            await Task.Delay(1000);
            await load.StopAsync();
            Assert.True(load.Transactions > 50, $"only {load.Transactions} transactions ran");
        }
        await using var harness = new StreamingHarness(service, db, "fault-kill");
        await harness.CatchUpAsync(TimeSpan.FromSeconds(90));
        await harness.AssertEqualAsync();
        await service.RequestStopAsync("fault-kill", ControlAction.Stop, wait: true, CancellationToken.None);
        Assert.Equal(SyncTaskStatus.Completed, service.Get("fault-kill").State.Status);
    }

    /// <summary>
    /// A worker killed after the server made the task's slot and before the worker recorded it leaves a slot of the
    /// task's name that the task's state does not know (the kill test hits this when a kill lands in slot creation).
    /// A FullIncremental task copied nothing under that slot's snapshot, which died with the worker: the next worker
    /// drops the slot and makes it again. An Incremental task streams from it, so what changed since that first attempt
    /// is applied.
    /// </summary>
    [Theory]
    [InlineData(SyncTaskMode.FullIncremental)]
    [InlineData(SyncTaskMode.Incremental)]
    public async Task ASlotThatAKilledWorkerMadeButNeverRecordedIsTakenOver(SyncTaskMode mode)
    {
        await using var db = await postgres.CreateDatabasesAsync($"slot_taken_over_{mode}");
        const string Items = "CREATE TABLE items (id int PRIMARY KEY, v text)";
        await db.OnSourceAsync(Items + "; INSERT INTO items VALUES (1, 'before')");
        if (mode == SyncTaskMode.Incremental) await db.OnDestinationAsync(Items + "; INSERT INTO items VALUES (1, 'before')");
        var service = new TaskService(_temp.Store);
        var task = service.Create("fault-slot", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = mode });
        var slot = TaskNaming.SlotName(task.Definition);
        // What the killed worker got done: the publication (first, as pgoutput reads it as of each change), then the slot.
        await db.OnSourceAsync($"CREATE PUBLICATION {TaskNaming.PublicationName(task.Definition)} FOR TABLE items");
        await db.OnSourceAsync($"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");
        await db.OnSourceAsync("INSERT INTO items VALUES (2, 'after the slot')");

        await using var harness = new StreamingHarness(service, db, "fault-slot");
        await harness.StartAsync();
        await db.OnSourceAsync("INSERT INTO items VALUES (3, 'streamed')");
        await harness.CatchUpAsync();
        await harness.AssertEqualAsync();
        Assert.Equal(3L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM items"));
        var messages = _temp.Store.ReadEvents("fault-slot").Select(e => e.Event.Message).ToList();
        Assert.Contains(messages, m => m.Contains(slot, StringComparison.Ordinal) && m.Contains("an earlier attempt", StringComparison.Ordinal)
            && m.Contains(mode == SyncTaskMode.FullIncremental ? "dropped" : "streams from it", StringComparison.Ordinal));
        Assert.Equal(0, await harness.StopAsync());
        Assert.Equal(SyncTaskStatus.Completed, service.Get("fault-slot").State.Status);
        Assert.Equal(0L, await db.SourceScalarAsync<long>($"SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '{slot}%'"));
    }

    /// <summary>
    /// The killed attempt's walsender can hold its slot a while longer: the next worker neither drops nor adopts a slot
    /// in use. It retries, saying why, and goes on once the slot is let go.
    /// </summary>
    [Fact]
    public async Task AnUnrecordedSlotStillHeldByItsWalsenderIsWaitedFor()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'before')");
        var service = new TaskService(_temp.Store);
        var task = service.Create("fault-held", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        var slot = TaskNaming.SlotName(task.Definition);
        var publication = TaskNaming.PublicationName(task.Definition);
        await db.OnSourceAsync($"CREATE PUBLICATION {publication} FOR TABLE items");
        await db.OnSourceAsync($"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");
        // The killed attempt's walsender, still streaming from the slot.
        var holder = new Npgsql.Replication.LogicalReplicationConnection(db.SourceConnectionString);
        await holder.Open();
        using var stopHolding = new CancellationTokenSource();
        var holding = Task.Run(async () =>
        {
            try { await foreach (var _ in new Sync.Engine.Stream.PgOutputReader(holder, slot, publication, messages: false).ReadAsync(null, stopHolding.Token, () => ValueTask.CompletedTask)) { } }
            catch (OperationCanceledException) { }
        });
        await TestTasks.WaitUntilAsync(() => db.SourceScalarAsync<bool>($"SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'"), TimeSpan.FromSeconds(30), "the slot to be held");
        var holderPid = await db.SourceScalarAsync<int>($"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{slot}'");

        await using var harness = new StreamingHarness(service, db, "fault-held");
        var starting = harness.StartAsync();
        await TestTasks.WaitUntilAsync(() => _temp.Store.ReadEvents("fault-held").Any(e => e.Event.Kind == Sync.SyncEventKind.Retry
                && e.Event.Message.Contains($"replication slot {slot} on the source, made by an earlier attempt that ended before recording it, is still held by source process", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), () => $"the held slot to be retried; {Describe(service, "fault-held")}");
        // Neither dropped nor taken: the holder still streams from it.
        Assert.Equal(holderPid, await db.SourceScalarAsync<int>($"SELECT coalesce(active_pid, 0) FROM pg_replication_slots WHERE slot_name = '{slot}'"));
        Assert.False(holding.IsCompleted);
        await stopHolding.CancelAsync();
        await holding;
        await holder.DisposeAsync();

        await starting;
        Assert.Contains(_temp.Store.ReadEvents("fault-held"), e => e.Event.Message.Contains($"Replication slot {slot} on the source", StringComparison.Ordinal)
            && e.Event.Message.Contains("so it was dropped and is made again", StringComparison.Ordinal));
        await db.OnSourceAsync("INSERT INTO items VALUES (2, 'streamed')");
        await harness.CatchUpAsync();
        await harness.AssertEqualAsync();
        Assert.Equal(0, await harness.StopAsync());
    }

    /// <summary>
    /// A destination checkpoint ahead of the source's WAL (written while streaming from another server, or the source
    /// restored from an earlier backup) would skip changes: the task fails at its start, saying so, and applies nothing.
    /// </summary>
    [Fact]
    public async Task ACheckpointAheadOfTheSourceFailsTheTaskInsteadOfSkippingChanges()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE notes (id int PRIMARY KEY, v text)");
        var service = new TaskService(_temp.Store);
        var task = service.Create("fault-ahead", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        await using (var harness = new StreamingHarness(service, db, "fault-ahead"))
        {
            await harness.StartAsync();
            await db.OnSourceAsync("INSERT INTO notes VALUES (1, 'streamed')");
            await harness.CatchUpAsync();
            Assert.Equal(0, await harness.StopAsync(ControlAction.Pause));
        }
        // As if the checkpoint had been written while streaming from a server further along.
        await db.OnDestinationAsync($"SELECT pg_replication_origin_advance('{TaskNaming.OriginName(task.Definition)}', 'FFFFFF/0')");
        await db.OnSourceAsync("INSERT INTO notes VALUES (2, 'not to be skipped silently')");

        // A worker that resumed instead would stream on: it is paused after a minute, and the exit code tells.
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var exit = await new Sync.Engine.Runtime.WorkerHost(_temp.Store, Sync.Engine.Runtime.TaskRunner.For, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).RunAsync("fault-ahead", limit.Token);
        Assert.NotEqual(0, exit);
        var state = service.Get("fault-ahead").State;
        Assert.Equal(SyncTaskStatus.Failed, state.Status);
        Assert.Equal(ErrorIds.CheckpointAheadOfSource, state.LastError?.ErrorId);
        Assert.Contains("is ahead of the source", state.LastError!.Message, StringComparison.Ordinal);
        Assert.Contains("FFFFFF/0", state.LastError.Message, StringComparison.Ordinal);
        Assert.Equal(1L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM notes"));
        await service.RemoveAsync("fault-ahead", force: true, CancellationToken.None);
    }

    /// <summary>What a timed-out wait saw: the task's state, its last events and the end of its worker's log.</summary>
    private string Describe(TaskService service, string name)
    {
        var info = service.Get(name);
        var events = _temp.Store.ReadEvents(name).TakeLast(8).Select(e => $"{e.Event.Kind}: {e.Event.Message}");
        var log = Path.Combine(_temp.Root, "logs", name + ".log");
        var tail = File.Exists(log) ? File.ReadLines(log).TakeLast(15) : [];
        return $"the task is {info.State.Status} in {info.State.Stage}, worker {info.Worker}, last error {info.State.LastError?.Message ?? "none"}\n" +
            $"events:\n  {string.Join("\n  ", events)}\nworker log:\n  {string.Join("\n  ", tail)}";
    }

    [Fact]
    public async Task SourceAndDestinationRestartsAreRetriedAndResumed()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync(WriteLoad.Schema);
        var service = new TaskService(_temp.Store);
        service.Create("fault-restart", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        await using var harness = new StreamingHarness(service, db, "fault-restart");
        await harness.StartAsync();
        await using (var load = new WriteLoad(db.SourceConnectionString, seed: 7))
        {
            await TestTasks.WaitUntilAsync(() => load.Transactions > 100, TimeSpan.FromSeconds(30), "some load");
            db.SourceCluster.Restart("fast");
            await TestTasks.WaitUntilAsync(() => service.Get("fault-restart").State.LastError is not null, TimeSpan.FromSeconds(30), "the retry to be recorded");
            var transactions = load.Transactions;
            await TestTasks.WaitUntilAsync(() => load.Transactions > transactions + 100, TimeSpan.FromSeconds(30), "load after the source restart");
            db.DestinationCluster.Restart("immediate");
            transactions = load.Transactions;
            await TestTasks.WaitUntilAsync(() => load.Transactions > transactions + 100, TimeSpan.FromSeconds(30), "load after the destination restart");
            await load.StopAsync();
        }
        await harness.CatchUpAsync(TimeSpan.FromSeconds(120));
        await harness.AssertEqualAsync();
        Assert.Contains(_temp.Store.ReadEvents("fault-restart"), e => e.Event.Kind == Sync.SyncEventKind.Retry);
        Assert.Equal(SyncTaskStatus.Running, service.Get("fault-restart").State.Status);
    }

    /// <summary>
    /// The stream's commits do not wait for the destination's disk, so the source is told only what the destination's
    /// origin says is on disk. With the destination's WAL writer slowed and the applier not asking, a committed change
    /// is visible on the destination but not confirmed to the source. The destination then crashes (whatever of its
    /// commits was not written yet goes with them) and the tables end equal, each row once.
    /// </summary>
    [Fact]
    public async Task CommitsNotYetOnTheDestinationsDiskAreNotConfirmedAndADestinationCrashLosesNothing()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE notes (id int PRIMARY KEY, v text)");
        var service = new TaskService(_temp.Store);
        var task = service.Create("fault-durable", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        var slot = TaskNaming.SlotName(task.Definition);
        async Task<SyncLsn> ConfirmedAsync() => SyncLsn.Parse(await db.SourceScalarAsync<string>($"SELECT coalesce(confirmed_flush_lsn, '0/0')::text FROM pg_replication_slots WHERE slot_name = '{slot}'"));
        var interval = Sync.Engine.Apply.ChangeApplier.DurableInterval;
        try
        {
            await PostgresFixture.SetSystemAsync(db.DestinationCluster, "wal_writer_delay", "10s");
            await using var harness = new StreamingHarness(service, db, "fault-durable");
            await harness.StartAsync();
            // A first change, asked about at once (the applier's first question is due at its first commit).
            await db.OnSourceAsync("INSERT INTO notes VALUES (1, 'first')");
            await harness.CatchUpAsync();
            Sync.Engine.Apply.ChangeApplier.DurableInterval = TimeSpan.FromHours(1);

            await db.OnSourceAsync("INSERT INTO notes VALUES (2, 'not on disk yet'), (3, 'nor this')");
            await TestTasks.WaitUntilAsync(() => db.DestinationScalarAsync<long>("SELECT count(*) FROM notes").GetAwaiter().GetResult() == 3,
                TimeSpan.FromSeconds(30), "the change to be committed on the destination");
            // The origin's position as committed, not as on disk: the end of that source transaction (heartbeats are
            // messages on this server and open no group). Heartbeats before it may be confirmed, everything before them
            // being on disk; nothing at or past it while its commit is not.
            var committed = SyncLsn.Parse(await db.DestinationScalarAsync<string>($"SELECT pg_replication_origin_progress('{TaskNaming.OriginName(task.Definition)}', false)::text"));
            // Several feedback intervals and heartbeats pass: the source is still not told.
            await Task.Delay(TimeSpan.FromSeconds(4));
            var confirmed = await ConfirmedAsync();
            Assert.True(confirmed < committed, $"the slot confirmed {confirmed}, at or past the commit that ends at {committed}, before the destination had it on disk");

            db.DestinationCluster.Restart("immediate");
            Sync.Engine.Apply.ChangeApplier.DurableInterval = interval;
            await harness.CatchUpAsync(TimeSpan.FromSeconds(90));
            Assert.Equal("1:first 2:not on disk yet 3:nor this", await db.DestinationScalarAsync<string>("SELECT string_agg(id || ':' || v, ' ' ORDER BY id) FROM notes"));
            await harness.AssertEqualAsync();
            Assert.Equal(0, await harness.StopAsync());
        }
        finally
        {
            Sync.Engine.Apply.ChangeApplier.DurableInterval = interval;
            await PostgresFixture.ExecuteAsync(db.DestinationCluster, "postgres", "ALTER SYSTEM RESET wal_writer_delay; SELECT pg_reload_conf()");
        }
    }

    [Fact]
    public async Task ACutConnectionIsRetriedWithinTheWindow()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync(WriteLoad.Schema);
        using var proxy = new TcpProxy(db.SourceCluster.Port);
        var service = new TaskService(_temp.Store);
        var source = TestTasks.Endpoint(db.SourceCluster, db.Name) with { Port = proxy.Port };
        service.Create("fault-cut", source, TestTasks.Endpoint(db.DestinationCluster, db.Name), d => d with { Mode = SyncTaskMode.FullIncremental });
        await using var harness = new StreamingHarness(service, db, "fault-cut");
        await harness.StartAsync();
        await using (var load = new WriteLoad(db.SourceConnectionString, seed: 3))
        {
            await TestTasks.WaitUntilAsync(() => load.Transactions > 100, TimeSpan.FromSeconds(30), "some load");
            proxy.Cut();
            // Longer than the first retry (1 s) and far shorter than the task's window.
            await TestTasks.WaitUntilAsync(() => service.Get("fault-cut").State.Status == SyncTaskStatus.Retrying, TimeSpan.FromSeconds(30), "status Retrying");
            var retrying = service.Get("fault-cut").State;
            Assert.Equal(ErrorIds.SourceConnectionFailed, retrying.LastError!.ErrorId);
            await Task.Delay(3000);
            proxy.Restore();
            await TestTasks.WaitUntilAsync(() => service.Get("fault-cut").State.Status == SyncTaskStatus.Running, TimeSpan.FromSeconds(60), "status Running again");
            await load.StopAsync();
        }
        await harness.CatchUpAsync(TimeSpan.FromSeconds(90));
        await harness.AssertEqualAsync();
    }

    /// <summary>
    /// Stop-SyncTask while the source is out of reach: the stop still drains once the source is back, sets sequences and
    /// drops the slot. Before, the stop cut the retry's wait short and the task ended Stopped with its slot left on the
    /// source, holding WAL.
    /// </summary>
    [Fact]
    public async Task ANormalStopWhileTheSourceIsUnreachableDrainsOnceItIsBack()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'copied')");
        using var proxy = new TcpProxy(db.SourceCluster.Port);
        var service = new TaskService(_temp.Store);
        var source = TestTasks.Endpoint(db.SourceCluster, db.Name) with { Port = proxy.Port };
        var task = service.Create("fault-stop-cut", source, TestTasks.Endpoint(db.DestinationCluster, db.Name), d => d with { Mode = SyncTaskMode.FullIncremental });
        await using var harness = new StreamingHarness(service, db, "fault-stop-cut");
        await harness.StartAsync();
        await db.OnSourceAsync("INSERT INTO items VALUES (2, 'streamed')");
        await harness.CatchUpAsync();

        proxy.Cut();
        await TestTasks.WaitUntilAsync(() => service.Get("fault-stop-cut").State.Status == SyncTaskStatus.Retrying, TimeSpan.FromSeconds(30), "status Retrying");
        await service.RequestStopAsync("fault-stop-cut", ControlAction.Stop, wait: false, CancellationToken.None);
        await db.OnSourceAsync("INSERT INTO items VALUES (3, 'written while the source was out of reach')");
        // The stop waits for the source (more than one backoff), instead of ending the task without its drain.
        bool RetriedAfterTheStop()
        {
            var events = _temp.Store.ReadEvents("fault-stop-cut").Select(e => e.Event).ToList();
            var received = events.FindIndex(e => e.Kind == SyncEventKind.Operator && e.Message.StartsWith("Stop requested", StringComparison.Ordinal));
            return received >= 0 && events.Skip(received).Any(e => e.Kind == SyncEventKind.Retry);
        }
        await TestTasks.WaitUntilAsync(() => RetriedAfterTheStop() || harness.Worker.IsCompleted, TimeSpan.FromSeconds(30), "a retry after the stop was received");
        Assert.False(harness.Worker.IsCompleted, $"The worker ended while the source was out of reach: {service.Get("fault-stop-cut").State.Status}");

        proxy.Restore();
        Assert.Equal(0, await harness.Worker.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(SyncTaskStatus.Completed, service.Get("fault-stop-cut").State.Status);
        Assert.Equal(3L, await db.DestinationScalarAsync<long>("SELECT count(*) FROM items"));
        Assert.Equal(0L, await db.SourceScalarAsync<long>($"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{TaskNaming.SlotName(task.Definition)}'"));
    }

    [Fact]
    public async Task ASlotDroppedByHandFailsTheTaskAndSaysAResetIsNeeded()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY)");
        var service = new TaskService(_temp.Store);
        var task = service.Create("fault-slot", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name),
            d => d with { Mode = SyncTaskMode.FullIncremental });
        await using var harness = new StreamingHarness(service, db, "fault-slot");
        await harness.StartAsync();
        var slot = TaskNaming.SlotName(task.Definition);

        // The worker reconnects within a second of losing its walsender, so each attempt ends the
        // walsender that holds the slot (waiting for it to go) and drops the slot right after.
        await TestTasks.WaitUntilAsync(() => db.TryDropSlotInUse(slot), TimeSpan.FromSeconds(30), "the slot to be dropped");

        Assert.Equal(Sync.Engine.Runtime.WorkerExitCode.TaskFailed, await harness.Worker.WaitAsync(TimeSpan.FromSeconds(60)));
        var failed = service.Get("fault-slot").State;
        Assert.Equal(SyncTaskStatus.Failed, failed.Status);
        Assert.Equal(ErrorIds.ReplicationSlotMissing, failed.LastError!.ErrorId);
        Assert.Contains("Reset-SyncTask", failed.LastError.Message);
        // A failed run never moves the destination's sequences, and says so.
        Assert.Contains(_temp.Store.ReadEvents("fault-slot"), e => e.Event.Level == Sync.SyncEventLevel.Error && e.Event.Message.Contains("Destination sequences were left as they are"));
    }
}
