using System.Collections.Concurrent;
using Sync.Engine.Runtime;
using Sync.Engine.Tasks;

namespace Sync.Engine.Snapshot;

/// <summary>
/// Mirrors the copy's progress into the task state: byte and row counters per table and range, updated by the
/// workers without locks and written out at most once a second, or at once when a range commits.
/// </summary>
public sealed class CopyStateTracker : ICopyProgress, IAsyncDisposable
{
    private readonly TaskRunContext _context;
    private readonly ConcurrentDictionary<(string Table, int Range), Counter> _counters = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _flusher;
    private readonly DateTimeOffset _started;
    private long _bytesAtStart;
    private long _rowsAtStart;
    private int _dirty;

    private sealed class Counter
    {
        public long Bytes;
        public long Rows;
        public int State; // TableCopyState
        public DateTimeOffset? Started;
        public DateTimeOffset? Ended;
    }

    public CopyStateTracker(TaskRunContext context)
    {
        _context = context;
        _started = context.Clock.GetUtcNow();
        var copy = context.Store.ReadState(context.TaskName).Copy;
        _bytesAtStart = copy?.BytesCopied ?? 0;
        _rowsAtStart = copy?.RowsCopied ?? 0;
        _flusher = Task.Run(FlushLoopAsync);
    }

    public void RangeStarted(CopyJob job)
    {
        var counter = _counters.GetOrAdd((job.Table.Name.ToString(), job.Range.Index), _ => new Counter());
        counter.Bytes = 0;
        counter.Rows = 0;
        counter.State = (int)TableCopyState.Copying;
        counter.Started = _context.Clock.GetUtcNow();
        Volatile.Write(ref _dirty, 1);
    }

    public void Transferred(CopyJob job, long bytes, long rows)
    {
        var counter = _counters.GetOrAdd((job.Table.Name.ToString(), job.Range.Index), _ => new Counter());
        Interlocked.Add(ref counter.Bytes, bytes);
        Interlocked.Add(ref counter.Rows, rows);
        Volatile.Write(ref _dirty, 1);
    }

    public void RangeCommitted(CopyJob job, long rows, long bytes)
    {
        var counter = _counters.GetOrAdd((job.Table.Name.ToString(), job.Range.Index), _ => new Counter());
        Interlocked.Exchange(ref counter.Rows, rows);
        Interlocked.Exchange(ref counter.Bytes, bytes);
        counter.State = (int)TableCopyState.Copied;
        counter.Ended = _context.Clock.GetUtcNow();
        Flush();
        _context.NoteProgress();
    }

    private async Task FlushLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try { await Task.Delay(1000, _stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            if (Interlocked.Exchange(ref _dirty, 0) == 1)
            {
                try { Flush(); }
                catch (Diagnostics.SyncException) { Volatile.Write(ref _dirty, 1); }
            }
        }
    }

    public void Flush()
    {
        lock (_counters)
        {
            var now = _context.Clock.GetUtcNow();
            _context.UpdateState(state =>
            {
                if (state.Copy is not { } copy) return state;
                var tables = copy.Tables.Select(table =>
                {
                    var ranges = table.Ranges.Select(range => _counters.TryGetValue((table.Source, range.Index), out var c)
                        ? range with
                        {
                            State = (TableCopyState)c.State, Rows = Interlocked.Read(ref c.Rows), Bytes = Interlocked.Read(ref c.Bytes),
                            StartedAt = c.Started ?? range.StartedAt, EndedAt = c.Ended ?? range.EndedAt,
                        }
                        : range).ToArray();
                    var done = ranges.Length > 0 && ranges.All(r => r.State == TableCopyState.Copied);
                    var started = ranges.Any(r => r.State != TableCopyState.Pending);
                    return table with
                    {
                        Ranges = ranges,
                        RowsCopied = ranges.Sum(r => r.Rows),
                        BytesCopied = ranges.Sum(r => r.Bytes),
                        State = done ? TableCopyState.Copied : started ? TableCopyState.Copying : table.State,
                        StartedAt = table.StartedAt ?? ranges.Where(r => r.StartedAt is not null).Select(r => r.StartedAt).Min(),
                        EndedAt = done ? ranges.Max(r => r.EndedAt) : null,
                    };
                }).ToArray();
                var elapsed = Math.Max(0.001, (now - _started).TotalSeconds);
                var next = copy with { Tables = tables };
                return state with
                {
                    Copy = next with
                    {
                        BytesPerSecond = Math.Max(0, next.BytesCopied - _bytesAtStart) / elapsed,
                        RowsPerSecond = Math.Max(0, next.RowsCopied - _rowsAtStart) / elapsed,
                    },
                };
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _flusher.ConfigureAwait(false);
        _stop.Dispose();
    }
}
