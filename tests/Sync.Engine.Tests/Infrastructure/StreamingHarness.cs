using Microsoft.Extensions.Logging.Abstractions;
using Sync.Engine.Compare;
using Sync.Engine.Runtime;
using Sync.Engine.Tasks;

namespace Sync.Engine.Tests.Infrastructure;

/// <summary>Runs a task's worker in the test process and waits for the stream to catch up with the source.</summary>
public sealed class StreamingHarness(TaskService service, DatabasePair db, string taskName) : IAsyncDisposable
{
    private Task<int>? _worker;

    public Task<int> Worker => _worker ?? throw new InvalidOperationException("not started");

    public async Task StartAsync()
    {
        _worker = Task.Run(() => new WorkerHost(service.Store, TaskRunner.For, NullLoggerFactory.Instance).RunAsync(taskName, CancellationToken.None));
        await TestTasks.WaitUntilAsync(() => _worker.IsCompleted || service.Get(taskName).State is { Stage: SyncTaskStage.RealtimeSync, Stream.CheckpointLsn: not null or null } s && s.Stage == SyncTaskStage.RealtimeSync && s.Stream?.SlotName is not null,
            TimeSpan.FromSeconds(120), "the task to reach real-time sync");
        if (_worker.IsCompleted) throw new InvalidOperationException($"The worker ended with {await _worker}: {service.Get(taskName).State.LastError?.Message}");
    }

    /// <summary>Waits until the slot has confirmed the source's current position: every change so far is applied.</summary>
    public async Task CatchUpAsync(TimeSpan? timeout = null)
    {
        var target = SyncLsn.Parse(await db.SourceScalarAsync<string>("SELECT pg_current_wal_lsn()::text"));
        var slot = TaskNaming.SlotName(service.Get(taskName).Definition);
        await TestTasks.WaitUntilAsync(async () =>
        {
            if (_worker?.IsCompleted == true) throw new InvalidOperationException($"The worker ended: {service.Get(taskName).State.LastError?.Message}");
            var confirmed = await db.SourceScalarAsync<string>($"SELECT coalesce(confirmed_flush_lsn, '0/0')::text FROM pg_replication_slots WHERE slot_name = '{slot}'");
            return SyncLsn.Parse(confirmed) >= target;
        }, timeout ?? TimeSpan.FromSeconds(60), $"the stream to apply everything up to {target}");
    }

    public async Task<ComparisonReport> CompareAsync(ComparisonLevel level = ComparisonLevel.Row) =>
        await new TaskComparer(service.Connections).CompareAsync(service.Get(taskName), level, null, 10, null, CancellationToken.None);

    public async Task AssertEqualAsync()
    {
        var report = await CompareAsync();
        Assert.True(report.AllEqual, string.Join("; ", report.Tables.Where(t => t.Result != ComparisonResult.Equal)
            .Select(t => $"{t.SourceTable}: {t.Result} src {t.SourceRows} dst {t.DestinationRows} missing {t.MissingRows} extra {t.ExtraRows} changed {t.ChangedRows} {string.Join(" | ", t.Samples.Select(x => $"{x.Kind} {x.Key} {x.SourceRow} / {x.DestinationRow}"))} {t.Error}")));
    }

    public async Task<int> StopAsync(ControlAction action = ControlAction.Stop)
    {
        if (_worker is null) return -1;
        if (!_worker.IsCompleted) await service.RequestStopAsync(taskName, action, wait: true, CancellationToken.None);
        return await _worker;
    }

    public async ValueTask DisposeAsync()
    {
        if (_worker is { IsCompleted: false })
        {
            try { await service.RequestStopAsync(taskName, ControlAction.StopForce, wait: true, CancellationToken.None); }
            catch (Diagnostics.SyncException) { }
            await _worker;
        }
    }
}
