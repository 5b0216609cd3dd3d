namespace Sync.Engine.Runtime.Backfill;

/// <summary>
/// The hand-over of tables between the task's stream and a table sync that copies them again (DESIGN.md, "Per-table
/// snapshot LSN", applied while the stream runs). While a table is frozen the stream skips its changes. The table sync
/// copies it under a snapshot of its own, then applies its changes from that snapshot's position through a slot of its
/// own, up to a boundary B: it applies every source transaction that committed before B, the stream every one at or
/// after B. No change is applied twice or skipped.
/// </summary>
/// <remarks>
/// <para>Two ways to agree on B. First the table sync offers one (<see cref="TryHandOver"/>) after each transaction
/// it applied: accepted while the stream has not reported a position at or beyond it, and then nobody waits. Under a
/// steady write load the stream, which only reports a position before applying, wins that race every time; so once the
/// table sync is close behind (or has tried long enough) it asks for a barrier (<see cref="RequestBarrier"/>). The
/// stream then sets B at its next position, or just after the last transaction the table sync began if that is
/// further, takes the tables back there, and waits (<see cref="TakeBack.Applied"/>) until the table sync has applied
/// everything before B. The table sync reads the same WAL through the same publication, so it reaches B; it begins
/// no transaction at or after B (<see cref="MayApply"/>).</para>
/// <para>Positions: the stream reports each transaction's commit LSN before it applies any of its changes, and each
/// heartbeat's LSN (every transaction before it has been applied). One lock orders those reports against the table
/// sync's offers and the transactions it begins.</para>
/// </remarks>
public sealed class BackfillCoordinator
{
    private readonly object _gate = new();
    private readonly List<(IReadOnlyList<string> Tables, TaskCompletionSource Done)> _freezeRequests = [];
    private readonly List<CatchUp> _catchUps = [];
    private readonly List<CatchUp> _awaited = [];   // taken back by the stream, which waits for the table sync to finish
    private SyncLsn _streamPosition = SyncLsn.Invalid;
    private volatile bool _pending;
    private Exception? _failure;

    /// <summary>One table sync applying its tables' changes until the stream takes them back.</summary>
    public sealed class CatchUp
    {
        internal CatchUp(IReadOnlyList<string> tables) => Tables = tables;
        internal IReadOnlyList<string> Tables { get; set; }
        internal SyncLsn LastBegun { get; set; } = SyncLsn.Invalid;
        internal bool BarrierRequested { get; set; }
        internal SyncLsn Boundary { get; set; } = SyncLsn.Invalid;
        internal TaskCompletionSource Applied { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The boundary agreed with the stream; invalid until then.</summary>
        public SyncLsn AgreedBoundary => Boundary;
    }

    /// <summary>Tables the stream takes back from <paramref name="Boundary"/> on, once <paramref name="Applied"/> completes.</summary>
    public sealed record TakeBack(IReadOnlyList<string> Tables, SyncLsn Boundary, Task Applied);

    /// <summary>True when the stream has something to pick up (a freeze, a hand-over, a barrier): a cheap check per event.</summary>
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
            for (var i = _catchUps.Count - 1; i >= 0; i--)
            {
                var catchUp = _catchUps[i];
                if (!catchUp.Applied.Task.IsCompleted) continue;   // still applying: its tables are not frozen again before it ends
                var remaining = catchUp.Tables.Where(t => !frozen.Contains(t)).ToList();
                if (remaining.Count == catchUp.Tables.Count) continue;
                if (remaining.Count == 0) _catchUps.RemoveAt(i);
                else catchUp.Tables = remaining;
            }
            UpdatePending();
            return taken;
        }
    }

    /// <summary>Stream: the frozen tables' changes it applied are committed; the table syncs may go on.</summary>
    public static void Acknowledge(IReadOnlyList<(IReadOnlyList<string> Tables, TaskCompletionSource Done)> freezes)
    {
        foreach (var freeze in freezes) freeze.Done.TrySetResult();
    }

    /// <summary>Table sync, once its tables are copied: starts applying their changes from its own slot.</summary>
    public CatchUp BeginCatchUp(IReadOnlyList<string> tables)
    {
        var catchUp = new CatchUp(tables);
        lock (_gate) _catchUps.Add(catchUp);
        return catchUp;
    }

    /// <summary>
    /// Table sync, at the start of a source transaction that committed at <paramref name="commitLsn"/>: false when
    /// the stream applies it (a barrier at or before it); the table sync then commits what it applied and calls
    /// <see cref="Finish"/>.
    /// </summary>
    public bool MayApply(CatchUp catchUp, SyncLsn commitLsn)
    {
        lock (_gate)
        {
            if (catchUp.Boundary.IsValid && commitLsn >= catchUp.Boundary) return false;
            if (!catchUp.LastBegun.IsValid || commitLsn > catchUp.LastBegun) catchUp.LastBegun = commitLsn;
            return true;
        }
    }

    /// <summary>Table sync, at a point between transactions: true when the stream's barrier lies at or before it.</summary>
    public bool ReachedBarrier(CatchUp catchUp, SyncLsn position)
    {
        lock (_gate) return catchUp.Boundary.IsValid && position >= catchUp.Boundary;
    }

    /// <summary>
    /// Table sync, after applying and committing everything that committed before <paramref name="boundary"/>: hands
    /// the tables back if the stream has not reached the boundary yet (and has set no barrier). False means the stream
    /// is ahead: keep applying, and ask for a barrier once close (<paramref name="streamPosition"/> says how far ahead).
    /// </summary>
    public bool TryHandOver(CatchUp catchUp, SyncLsn boundary, out SyncLsn streamPosition)
    {
        lock (_gate)
        {
            streamPosition = _streamPosition;
            if (catchUp.Boundary.IsValid) return false;
            if (_streamPosition.IsValid && _streamPosition >= boundary) return false;
            catchUp.Boundary = boundary;
            catchUp.Applied.TrySetResult();
            _pending = true;
            return true;
        }
    }

    /// <summary>Table sync: asks the stream to set the boundary at its next position and wait for the table sync there.</summary>
    public void RequestBarrier(CatchUp catchUp)
    {
        lock (_gate)
        {
            catchUp.BarrierRequested = true;
            _pending = true;
        }
    }

    /// <summary>Table sync: everything before the barrier is applied and committed; the stream may go on.</summary>
    public static void Finish(CatchUp catchUp) => catchUp.Applied.TrySetResult();

    /// <summary>
    /// Stream: it is about to apply the transaction that committed at <paramref name="position"/> (or has applied
    /// everything before a heartbeat there). Sets the boundary of any barrier asked for, and returns the tables it takes
    /// back: it applies their changes from each one's boundary, after awaiting <see cref="TakeBack.Applied"/>.
    /// </summary>
    public IReadOnlyList<TakeBack> Advance(SyncLsn position)
    {
        lock (_gate)
        {
            if (position > _streamPosition) _streamPosition = position;
            if (_catchUps.Count == 0) return [];
            List<TakeBack>? taken = null;
            for (var i = 0; i < _catchUps.Count; i++)
            {
                var catchUp = _catchUps[i];
                if (catchUp.BarrierRequested && !catchUp.Boundary.IsValid)
                    catchUp.Boundary = catchUp.LastBegun.IsValid && catchUp.LastBegun >= position ? new SyncLsn(catchUp.LastBegun.Value + 1) : position;
                if (!catchUp.Boundary.IsValid || position < catchUp.Boundary) continue;
                (taken ??= []).Add(new TakeBack(catchUp.Tables, catchUp.Boundary, catchUp.Applied.Task));
                _catchUps.RemoveAt(i--);
                if (!catchUp.Applied.Task.IsCompleted) _awaited.Add(catchUp);
            }
            _awaited.RemoveAll(c => c.Applied.Task.IsCompleted);
            UpdatePending();
            return taken ?? (IReadOnlyList<TakeBack>)[];
        }
    }

    /// <summary>Table sync: a failure the stream must raise (the task then retries, and the table sync starts over).</summary>
    public void Fail(Exception failure)
    {
        lock (_gate)
        {
            _failure ??= failure;
            _pending = true;
            foreach (var catchUp in _catchUps.Concat(_awaited)) catchUp.Applied.TrySetException(failure);
        }
    }

    /// <summary>Stream: throws the table sync's failure, if any.</summary>
    public void ThrowIfFailed()
    {
        Exception? failure;
        lock (_gate) failure = _failure;
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
    }

    private void UpdatePending() =>
        _pending = _freezeRequests.Count > 0 || _failure is not null || _catchUps.Any(c => c.Boundary.IsValid || c.BarrierRequested);
}
