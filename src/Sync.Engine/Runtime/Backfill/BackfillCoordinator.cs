namespace Sync.Engine.Runtime.Backfill;

/// <summary>
/// The hand-over of tables between the task's stream and a table sync that copies them again (DESIGN.md, "Per-table
/// snapshot LSN", applied while the stream runs). While a table is frozen the stream skips its changes. The table sync
/// copies it under a snapshot of its own, then applies its changes from that snapshot's position through a slot of its
/// own; it stops at a boundary B (every source transaction that committed before B is applied) once the stream has not
/// yet passed B. The stream takes the table back at its first transaction (or heartbeat) at or after B and applies its
/// changes from there. No change is applied twice or skipped, and the other tables never wait.
/// </summary>
/// <remarks>
/// Positions: the stream reports each transaction's commit LSN before it applies any of its changes, and each
/// heartbeat's LSN (every transaction before it has been applied). The lock orders the stream's reports against the
/// table sync's "ready at B", which is refused when the stream has already reported a position at or beyond B.
/// </remarks>
public sealed class BackfillCoordinator
{
    private readonly object _gate = new();
    private readonly List<(IReadOnlyList<string> Tables, TaskCompletionSource Done)> _freezeRequests = [];
    private readonly List<(IReadOnlyList<string> Tables, SyncLsn Boundary)> _ready = [];
    private SyncLsn _streamPosition = SyncLsn.Invalid;
    private volatile bool _pending;
    private Exception? _failure;

    /// <summary>True when the stream has something to pick up (a freeze or a hand-over): a cheap check per event.</summary>
    public bool HasWork => _pending;

    /// <summary>Table sync: asks the stream to stop applying these tables' changes, and waits until it has.</summary>
    public Task FreezeAsync(IReadOnlyList<string> tables, CancellationToken ct)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _freezeRequests.Add((tables, done));
            _pending = true;
        }
        return done.Task.WaitAsync(ct);
    }

    /// <summary>
    /// Stream, between source transactions: the freeze requests waiting. It stops applying their tables, commits what it
    /// has applied of them, and only then acknowledges (<see cref="Acknowledge"/>), so the table sync never empties a
    /// table under changes the stream still holds. A hand-over of those tables that the stream has not taken yet is
    /// withdrawn: they are being copied again.
    /// </summary>
    public IReadOnlyList<(IReadOnlyList<string> Tables, TaskCompletionSource Done)> TakeFreezes()
    {
        lock (_gate)
        {
            if (_freezeRequests.Count == 0) return [];
            var taken = _freezeRequests.ToList();
            _freezeRequests.Clear();
            var frozen = taken.SelectMany(r => r.Tables).ToHashSet(StringComparer.Ordinal);
            for (var i = _ready.Count - 1; i >= 0; i--)
            {
                var remaining = _ready[i].Tables.Where(t => !frozen.Contains(t)).ToList();
                if (remaining.Count == _ready[i].Tables.Count) continue;
                if (remaining.Count == 0) _ready.RemoveAt(i);
                else _ready[i] = (remaining, _ready[i].Boundary);
            }
            _pending = _ready.Count > 0 || _failure is not null;
            return taken;
        }
    }

    /// <summary>Stream: the frozen tables' changes it applied are committed; the table syncs may go on.</summary>
    public static void Acknowledge(IReadOnlyList<(IReadOnlyList<string> Tables, TaskCompletionSource Done)> freezes)
    {
        foreach (var freeze in freezes) freeze.Done.TrySetResult();
    }

    /// <summary>
    /// Table sync, after applying everything that committed before <paramref name="boundary"/>: hands the tables back if
    /// the stream has not reached the boundary yet. False means the stream is ahead: keep applying and try again later.
    /// </summary>
    public bool TryHandOver(IReadOnlyList<string> tables, SyncLsn boundary)
    {
        lock (_gate)
        {
            if (_streamPosition.IsValid && _streamPosition >= boundary) return false;
            _ready.Add((tables, boundary));
            _pending = true;
            return true;
        }
    }

    /// <summary>
    /// Stream: it is about to apply the transaction that committed at <paramref name="position"/> (or has applied
    /// everything before a heartbeat there). Returns the tables it takes back, each with the position from which it
    /// applies their changes.
    /// </summary>
    public IReadOnlyList<(IReadOnlyList<string> Tables, SyncLsn Boundary)> Advance(SyncLsn position)
    {
        lock (_gate)
        {
            if (position > _streamPosition) _streamPosition = position;
            if (_ready.Count == 0) return [];
            var taken = _ready.Where(r => position >= r.Boundary).ToList();
            if (taken.Count > 0) _ready.RemoveAll(r => position >= r.Boundary);
            _pending = _ready.Count > 0 || _freezeRequests.Count > 0 || _failure is not null;
            return taken;
        }
    }

    /// <summary>Table sync: a failure the stream must raise (the task then retries, and the table sync starts over).</summary>
    public void Fail(Exception failure)
    {
        lock (_gate)
        {
            _failure ??= failure;
            _pending = true;
        }
    }

    /// <summary>Stream: throws the table sync's failure, if any.</summary>
    public void ThrowIfFailed()
    {
        Exception? failure;
        lock (_gate) failure = _failure;
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
    }
}
