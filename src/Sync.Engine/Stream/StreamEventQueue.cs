using System.Threading.Channels;

namespace Sync.Engine.Stream;

/// <summary>
/// Carries decoded events from the thread reading the slot to the thread applying them. The reader hands over what it
/// has gathered when it has read everything the source has sent so far (<see cref="CaughtUpAsync"/>, just before its
/// read would wait), or every <see cref="MaxBatch"/> events while more is coming. So the applying thread is woken once
/// per burst of the stream, not once per transaction or row: at moderate rates, thread wake-ups were most of the
/// worker's CPU (docs/benchmarks.md). A batch handed over by <see cref="CaughtUpAsync"/> tells the applier that the
/// stream has nothing more for now (<see cref="IsIdle"/>), so it can commit its group without waiting.
/// </summary>
public sealed class StreamEventQueue
{
    public const int MaxBatch = 512;
    private readonly Channel<Batch> _channel;
    private readonly List<StreamEvent> _gathering = new(MaxBatch);
    private bool _lastHandedOverCaughtUp = true;
    /// <summary>A source transaction is open at the last event added (a large one spans hand-overs).</summary>
    private bool _inTransaction;
    /// <summary>
    /// How many gathered events end at a transaction boundary: after a commit, or after a heartbeat outside a transaction
    /// (a logical message inside one is part of it).
    /// </summary>
    private int _boundary;
    private Batch _current = new([], true);
    private int _next;

    private sealed record Batch(StreamEvent[] Events, bool CaughtUp);

    /// <param name="capacity">Batches in flight before the reader waits: bounds the worker's memory.</param>
    public StreamEventQueue(int capacity) =>
        _channel = Channel.CreateBounded<Batch>(new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true });

    /// <summary>Reader side: adds an event, handing over the gathered ones when the batch is full.</summary>
    public ValueTask AddAsync(StreamEvent e, CancellationToken ct)
    {
        _gathering.Add(e);
        switch (e)
        {
            case BeginEvent: _inTransaction = true; break;
            case CommitEvent: _inTransaction = false; _boundary = _gathering.Count; break;
            case HeartbeatEvent when !_inTransaction: _boundary = _gathering.Count; break;
        }
        return _gathering.Count >= MaxBatch ? HandOverAsync(caughtUp: false, ct) : ValueTask.CompletedTask;
    }

    /// <summary>
    /// Reader side: everything the source has sent so far has been added, and the next read will wait for more. Hands
    /// over what was gathered, marked as the stream's last for now; with nothing gathered, only when the applier was
    /// told otherwise by the last batch.
    /// </summary>
    public ValueTask CaughtUpAsync(CancellationToken ct) =>
        _gathering.Count > 0 || !_lastHandedOverCaughtUp ? HandOverAsync(caughtUp: true, ct) : ValueTask.CompletedTask;

    private ValueTask HandOverAsync(bool caughtUp, CancellationToken ct)
    {
        var batch = new Batch(_gathering.ToArray(), caughtUp);
        _gathering.Clear();
        _boundary = 0;
        _lastHandedOverCaughtUp = caughtUp;
        HandOvers++;
        var write = _channel.Writer.WriteAsync(batch, ct);
        if (!write.IsCompleted) ReaderWaits++;
        return write;
    }

    /// <summary>Batches handed over (the reader's side).</summary>
    public long HandOvers { get; private set; }

    /// <summary>Hand-overs that found every batch slot taken, so the reader waited for the applier (and the source's walsender, in turn, for the reader).</summary>
    public long ReaderWaits { get; private set; }

    /// <summary>Times the applier found nothing handed over and waited for the reader.</summary>
    public long ApplierWaits { get; private set; }

    /// <summary>
    /// Reader side: the stream ended (with the error that ended it, if any). What was gathered is handed over first, up
    /// to the last transaction boundary when an error ended it: a transaction cut off by the error never reaches the
    /// applier from here.
    /// </summary>
    public void Complete(Exception? error = null)
    {
        var keep = error is null ? _gathering.Count : _boundary;
        if (keep > 0) _channel.Writer.TryWrite(new Batch(_gathering.Take(keep).ToArray(), true));
        _gathering.Clear();
        _channel.Writer.TryComplete(error);
    }

    /// <summary>Applying side: the next event, if one has been handed over.</summary>
    public bool TryRead(out StreamEvent? next)
    {
        while (_next >= _current.Events.Length)
        {
            if (!_channel.Reader.TryRead(out var batch))
            {
                next = null;
                return false;
            }
            _current = batch;
            _next = 0;
        }
        next = _current.Events[_next++];
        return true;
    }

    /// <summary>Applying side: nothing is waiting in this batch or the channel.</summary>
    public bool IsEmpty => _next >= _current.Events.Length && _channel.Reader.Count == 0;

    /// <summary>
    /// Applying side: nothing is waiting, and the reader had read all the source had sent when it handed over the last
    /// batch (the stream has paused). When only <see cref="IsEmpty"/> holds, the reader is in the middle of a burst and
    /// its next batch is coming.
    /// </summary>
    public bool IsIdle => IsEmpty && _current.CaughtUp;

    /// <summary>
    /// Applying side: waits until something has been handed over (events, or only the word that the reader has caught
    /// up, after which <see cref="TryRead"/> finds nothing and <see cref="IsIdle"/> holds); false when the stream has ended.
    /// </summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken ct)
    {
        if (_next < _current.Events.Length) return ValueTask.FromResult(true);
        var wait = _channel.Reader.WaitToReadAsync(ct);
        if (!wait.IsCompleted) ApplierWaits++;
        return wait;
    }
}
