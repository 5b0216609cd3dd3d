using Sync.Engine.Tasks;

namespace Sync.Engine.Snapshot;

/// <summary>
/// Rows-per-second and bytes-per-second limits shared by all copy workers of a task, applied only inside the
/// task's daily windows (or all day). Limits can change while the copy runs (<see cref="Update"/>). A virtual clock
/// advances by each chunk's cost; a worker ahead of it waits the difference (with a small burst allowance).
/// </summary>
public sealed class FlowLimiter(FlowControl flow, TimeProvider clock)
{
    private static readonly TimeSpan Burst = TimeSpan.FromMilliseconds(100);
    private readonly object _gate = new();
    private FlowControl _flow = flow;
    private long _nextTicks;

    public FlowControl Current { get { lock (_gate) return _flow; } }

    public void Update(FlowControl flow)
    {
        lock (_gate)
        {
            _flow = flow;
            _nextTicks = 0;
        }
    }

    public async ValueTask WaitAsync(long bytes, long rows, CancellationToken ct)
    {
        TimeSpan delay;
        lock (_gate)
        {
            var now = clock.GetUtcNow();
            if (!_flow.AppliesAt(TimeOnly.FromDateTime(now.ToLocalTime().DateTime))) return;
            var cost = 0.0;
            if (_flow.BytesPerSecond is { } bps && bps > 0) cost = Math.Max(cost, (double)bytes / bps);
            if (_flow.RowsPerSecond is { } rps && rps > 0) cost = Math.Max(cost, (double)rows / rps);
            var start = Math.Max(_nextTicks, now.UtcTicks - Burst.Ticks);
            _nextTicks = start + (long)(cost * TimeSpan.TicksPerSecond);
            delay = TimeSpan.FromTicks(_nextTicks - now.UtcTicks - Burst.Ticks);
        }
        if (delay > TimeSpan.Zero) await Task.Delay(delay, clock, ct).ConfigureAwait(false);
    }
}
