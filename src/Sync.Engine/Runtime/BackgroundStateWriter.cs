using Sync.Engine.Diagnostics;
using Sync.Engine.Tasks;

namespace Sync.Engine.Runtime;

/// <summary>
/// Writes a hot loop's state reports without making it wait for the disk: each state write is a flushed, renamed file
/// under the task's lock, which the worker's heartbeat also takes, and an apply loop that waited on it stalled the stream
/// for that long. The latest report wins (each one states the reported fields in full); a background task writes it.
/// </summary>
internal sealed class BackgroundStateWriter : IAsyncDisposable
{
    private readonly TaskRunContext _context;
    private readonly Action<string> _onFailure;
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private Func<TaskState, TaskState>? _next;
    private int _stopped;

    public BackgroundStateWriter(TaskRunContext context, Action<string> onFailure)
    {
        _context = context;
        _onFailure = onFailure;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Replaces the report waiting to be written, if any, with <paramref name="change"/>; once stopped, writes it at once.</summary>
    public void Post(Func<TaskState, TaskState> change)
    {
        Interlocked.Exchange(ref _next, change);
        if (Volatile.Read(ref _stopped) == 1)
        {
            WritePending();
            return;
        }
        if (_signal.CurrentCount == 0)
        {
            try { _signal.Release(); }
            catch (Exception e) when (e is SemaphoreFullException or ObjectDisposedException) { }
        }
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try { await _signal.WaitAsync(_stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            WritePending();
        }
    }

    private void WritePending()
    {
        if (Interlocked.Exchange(ref _next, null) is not { } change) return;
        // A report that cannot be written (store locked, disk full, a reader holding the file on Windows) is skipped: the
        // next one carries the same fields. It must never end the writer or reach the apply loop.
        try { _context.UpdateState(change); }
        catch (Exception e) when (e is SyncException or IOException or UnauthorizedAccessException) { _onFailure(e.Message); }
    }

    /// <summary>Stops the writer and writes what is still waiting, so the last report is never lost; later posts write at once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        _stop.Cancel();
        await _loop.ConfigureAwait(false);
        WritePending();
        _stop.Dispose();
    }
}
