using Microsoft.Extensions.Logging;
using Sync.Engine.Store;
using Sync.Engine.Tasks;

namespace Sync.Engine.Runtime;

/// <summary>
/// What a runner sees of its task: the definition (re-read on Reload requests), serialized state updates,
/// the event log, and the operator's stop requests. <see cref="StopSignal"/> is cancelled by any stop request
/// (a copy stops at once; a stream finishes its transaction and then drains or pauses as
/// <see cref="StopRequested"/> says); <see cref="Halt"/> only by a forced stop, which abandons everything.
/// </summary>
public sealed class TaskRunContext : IDisposable
{
    private readonly SemaphoreSlim _stateGate = new(1, 1);
    private readonly CancellationTokenSource _halt = new();
    private readonly CancellationTokenSource _stop = new();
    private volatile TaskDefinition _definition;
    private int _stopMode;
    private long _progress;
    private volatile bool _recovering;

    public TaskRunContext(ITaskStore store, TaskDefinition definition, ILoggerFactory loggers, TimeProvider clock)
    {
        Store = store;
        _definition = definition;
        Loggers = loggers;
        Clock = clock;
    }

    public ITaskStore Store { get; }
    public ILoggerFactory Loggers { get; }
    public TimeProvider Clock { get; }
    public TaskDefinition Definition => _definition;
    public string TaskName => _definition.Name;
    public CancellationToken Halt => _halt.Token;
    public CancellationToken StopSignal => _stop.Token;

    /// <summary>
    /// Cancelled when the worker's process is asked to end (SIGTERM, Ctrl+C of an in-process run). It also asks for a
    /// pause, which a pending normal stop outranks: this is what still ends that stop's waits for the source.
    /// </summary>
    public CancellationToken ProcessEnding { get; init; }
    public StopMode StopRequested => (StopMode)Volatile.Read(ref _stopMode);

    /// <summary>Set when a set-wise apply met a key conflict: the next run replays that group one row per statement.</summary>
    public bool ApplyRowByRow { get; set; }

    /// <summary>
    /// Set when the stream sent a binary value that cannot be sent on (<see cref="Apply.ApplyTable.Bind"/>): why. The
    /// stream's next attempts in this run use text format (<see cref="Stream.StreamFormat.Choose"/>).
    /// </summary>
    public string? StreamInText { get; set; }

    /// <summary>How many times the run has reported progress (<see cref="NoteProgress"/>): a retry that moved it recovered.</summary>
    public long ProgressMarks => Interlocked.Read(ref _progress);

    /// <summary>
    /// Work reached the destination (a copied range committed, the stream's confirmed position moved): the run is
    /// healthy again after a retry, so the retry window starts afresh at the next failure and the state stops saying
    /// "retrying since".
    /// </summary>
    public void NoteProgress()
    {
        Interlocked.Increment(ref _progress);
        if (!_recovering) return;
        try
        {
            UpdateState(s => s with { RetryingSince = null });
            _recovering = false;
        }
        catch (Exception e) when (e is Diagnostics.SyncException or IOException or UnauthorizedAccessException)
        {
            // The store is busy for the moment: the next progress tries again; the run itself is healthy.
        }
    }

    /// <summary>Set by the runner while it retries; the next <see cref="NoteProgress"/> clears the state's retry mark.</summary>
    internal void MarkRecovering() => _recovering = true;

    /// <summary>Raised (on the control thread) after the definition was re-read.</summary>
    public event Action<TaskDefinition>? DefinitionChanged;

    public TaskState UpdateState(Func<TaskState, TaskState> change)
    {
        _stateGate.Wait();
        try { return Store.UpdateState(TaskName, change); }
        finally { _stateGate.Release(); }
    }

    public void Event(SyncEventKind kind, SyncEventLevel level, string message, IReadOnlyDictionary<string, string>? data = null) =>
        Store.AppendEvent(TaskName, new TaskEvent { Time = Clock.GetUtcNow(), Kind = kind, Level = level, Message = message, Data = data });

    /// <summary>Records a stop request; a stronger one (Force over Stop over Pause) wins.</summary>
    public void RequestStop(StopMode mode)
    {
        int current;
        do
        {
            current = Volatile.Read(ref _stopMode);
            if (Rank((StopMode)current) >= Rank(mode)) break;
        } while (Interlocked.CompareExchange(ref _stopMode, (int)mode, current) != current);
        // The tokens turn cancelled here; what they cancel runs on a thread-pool thread. The driver cancels running server
        // work with a synchronous cancel request (a connection of its own and a round trip, up to the connect timeout to an
        // unreachable server), which must not hold up the caller: the worker's control loop, which also writes its heartbeat.
        Observe(_stop.CancelAsync());
        if (mode == StopMode.Force) Observe(_halt.CancelAsync());
    }

    private static void Observe(Task cancellation)
    {
        if (!cancellation.IsCompleted)
            cancellation.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        else _ = cancellation.Exception;
    }

    public void ReloadDefinition()
    {
        _definition = Store.ReadDefinition(TaskName);
        DefinitionChanged?.Invoke(_definition);
    }

    private static int Rank(StopMode mode) => mode switch
    {
        StopMode.Force => 3,
        StopMode.Stop => 2,
        StopMode.Pause => 1,
        _ => 0,
    };

    public void Dispose()
    {
        _halt.Dispose();
        _stop.Dispose();
        _stateGate.Dispose();
    }
}
