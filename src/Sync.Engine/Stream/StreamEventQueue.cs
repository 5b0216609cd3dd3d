using System.Threading.Channels;

namespace Sync.Engine.Stream;

/// <summary>
/// Carries decoded events from the thread reading the slot to the thread applying them, a source transaction at a time:
/// the reader hands over what it has gathered at each commit (and at each heartbeat, or every <see cref="MaxBatch"/>
/// events of a large transaction), so the applying thread is woken once per transaction, not once per row. At moderate
/// rates, when every message arrives on its own, those wake-ups were most of the worker's CPU (docs/benchmarks.md).
/// </summary>
public sealed class StreamEventQueue
{
    public const int MaxBatch = 64;
    private readonly Channel<StreamEvent[]> _channel;
    private readonly List<StreamEvent> _gathering = new(64);
    private StreamEvent[] _current = [];
    private int _next;

    /// <param name="capacity">Batches in flight before the reader waits: bounds the worker's memory.</param>
    public StreamEventQueue(int capacity) =>
        _channel = Channel.CreateBounded<StreamEvent[]>(new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true });

    /// <summary>Reader side: adds an event, handing over the gathered ones when it closes a transaction or the batch is full.</summary>
    public ValueTask AddAsync(StreamEvent e, CancellationToken ct)
    {
        _gathering.Add(e);
        return e is CommitEvent or HeartbeatEvent || _gathering.Count >= MaxBatch ? HandOverAsync(ct) : ValueTask.CompletedTask;
    }

    private ValueTask HandOverAsync(CancellationToken ct)
    {
        var batch = _gathering.ToArray();
        _gathering.Clear();
        return _channel.Writer.WriteAsync(batch, ct);
    }

    /// <summary>Reader side: the stream ended (with the error that ended it, if any); what was gathered is handed over first.</summary>
    public void Complete(Exception? error = null)
    {
        if (_gathering.Count > 0 && error is null) _channel.Writer.TryWrite(_gathering.ToArray());
        _gathering.Clear();
        _channel.Writer.TryComplete(error);
    }

    /// <summary>Applying side: the next event, if one has been handed over.</summary>
    public bool TryRead(out StreamEvent? next)
    {
        if (_next >= _current.Length)
        {
            if (!_channel.Reader.TryRead(out var batch))
            {
                next = null;
                return false;
            }
            _current = batch;
            _next = 0;
        }
        next = _current[_next++];
        return true;
    }

    /// <summary>Applying side: nothing is waiting in this batch or the channel (the stream has paused).</summary>
    public bool IsEmpty => _next >= _current.Length && _channel.Reader.Count == 0;

    /// <summary>Applying side: waits until an event can be read; false when the stream has ended.</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken ct) =>
        _next < _current.Length ? ValueTask.FromResult(true) : _channel.Reader.WaitToReadAsync(ct);
}
