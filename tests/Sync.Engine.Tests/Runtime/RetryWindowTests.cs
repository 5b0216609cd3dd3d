using Microsoft.Extensions.Logging.Abstractions;
using Sync.Engine.Diagnostics;
using Sync.Engine.Runtime;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Runtime;

/// <summary>
/// The retry windows on a clock the test moves (a window is ten minutes at least, so real time is out of the question).
/// The fault tests retry against real servers; these pin down when the window starts and ends.
/// </summary>
public sealed class RetryWindowTests : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    private static SyncException ConnectionLost() =>
        new(ErrorIds.SourceConnectionFailed, SyncErrorCategory.ConnectionError, "connection to the source was lost", "retry", retriable: true);

    private TaskRunContext Context(TimeProvider clock)
    {
        var service = new TaskService(_temp.Store);
        TestTasks.CreateOffline(service, "retry", d => d with { Options = d.Options with { ConnectionRetryMinutes = 15, OtherRetryMinutes = 5 } });
        return new TaskRunContext(_temp.Store, _temp.Store.ReadDefinition("retry"), NullLoggerFactory.Instance, clock);
    }

    [Fact]
    public async Task AnUnbrokenSeriesOfFailuresEndsWhenTheWindowIsUsedUp()
    {
        var clock = new SteppingClock();
        using var context = Context(clock);
        var attempts = 0;
        var outcome = await TaskRunner.RunWithRetriesAsync(context, _ =>
        {
            attempts++;
            clock.Advance(TimeSpan.FromSeconds(20));
            throw ConnectionLost();
        });
        Assert.Equal(SyncTaskStatus.Failed, outcome.Status);
        Assert.Contains("retried for 15 minutes", outcome.Error!.Message);
        Assert.Equal(ErrorIds.SourceConnectionFailed, outcome.Error.ErrorId);
        // Backoff 1, 2, 4, ... 30 s plus 20 s an attempt: about 20 attempts in fifteen minutes, not one and not hundreds.
        Assert.InRange(attempts, 14, 26);
    }

    [Fact]
    public async Task OtherRetriableFailuresHaveTheShorterWindow()
    {
        var clock = new SteppingClock();
        using var context = Context(clock);
        var started = clock.GetUtcNow();
        var outcome = await TaskRunner.RunWithRetriesAsync(context, _ =>
            throw new SyncException(ErrorIds.ApplyFailed, SyncErrorCategory.ResourceBusy, "could not serialize access", "retry", retriable: true, sqlState: "40001"));
        Assert.Equal(SyncTaskStatus.Failed, outcome.Status);
        Assert.Contains("retried for 5 minutes", outcome.Error!.Message);
        Assert.InRange(clock.GetUtcNow() - started, TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(6));
    }

    [Fact]
    public async Task AFailureAfterARecoveryStartsANewWindow()
    {
        var clock = new SteppingClock();
        using var context = Context(clock);
        var attempts = 0;
        var outcome = await TaskRunner.RunWithRetriesAsync(context, c =>
        {
            attempts++;
            if (attempts == 1) throw ConnectionLost();
            if (attempts == 2)
            {
                // Streams for a day after the first outage, then loses the connection again.
                c.NoteProgress();
                Assert.Null(_temp.Store.ReadState("retry").RetryingSince);
                clock.Advance(TimeSpan.FromDays(1));
                throw ConnectionLost();
            }
            return Task.FromResult(RunOutcome.Completed("done"));
        });
        Assert.Equal(SyncTaskStatus.Completed, outcome.Status);
        Assert.Equal(3, attempts);
        var retries = _temp.Store.ReadEvents("retry").Select(e => e.Event).Where(e => e.Kind == SyncEventKind.Retry).ToList();
        Assert.Equal(2, retries.Count);
        // The second series began with the second failure, and its backoff started again at one second.
        Assert.All(retries, r => Assert.StartsWith("Retrying in 1 s", r.Message));
        Assert.Null(_temp.Store.ReadState("retry").RetryingSince);
    }

    [Fact]
    public async Task WhileRetryingTheStateSaysSinceWhenAndWhy()
    {
        var clock = new SteppingClock();
        using var context = Context(clock);
        var first = clock.GetUtcNow();
        TaskState? seen = null;
        var attempts = 0;
        await TaskRunner.RunWithRetriesAsync(context, _ =>
        {
            if (++attempts == 3)
            {
                seen = _temp.Store.ReadState("retry");
                return Task.FromResult(RunOutcome.Completed("done"));
            }
            throw ConnectionLost();
        });
        Assert.Equal(first, seen!.RetryingSince);
        Assert.Equal(ErrorIds.SourceConnectionFailed, seen.LastError!.ErrorId);
        Assert.Contains("connection to the source was lost", seen.LastError.Message);
    }

    [Fact]
    public async Task PermanentFailuresAreNotRetried()
    {
        var clock = new SteppingClock();
        using var context = Context(clock);
        var attempts = 0;
        await Assert.ThrowsAsync<SyncException>(() => TaskRunner.RunWithRetriesAsync(context, _ =>
        {
            attempts++;
            throw new SyncException(ErrorIds.AuthenticationFailed, SyncErrorCategory.AuthenticationError, "password authentication failed", "retry");
        }));
        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task ARetriableFailureWhileAPauseIsPendingPausesTheTaskWithTheErrorShown()
    {
        var clock = new SteppingClock();
        using var context = Context(clock);
        var attempts = 0;
        var outcome = await TaskRunner.RunWithRetriesAsync(context, c =>
        {
            attempts++;
            c.RequestStop(StopMode.Pause);
            throw ConnectionLost();
        });
        Assert.Equal(SyncTaskStatus.Paused, outcome.Status);
        Assert.Equal(1, attempts);
        Assert.Contains("connection to the source was lost", outcome.Message);
        Assert.Equal(ErrorIds.SourceConnectionFailed, _temp.Store.ReadState("retry").LastError!.ErrorId);
    }

    [Fact]
    public async Task ARetriableFailureWhileANormalStopIsPendingIsRetriedSoTheStopStillDrains()
    {
        var clock = new SteppingClock();
        using var context = Context(clock);
        var started = clock.GetUtcNow();
        var attempts = 0;
        var outcome = await TaskRunner.RunWithRetriesAsync(context, c =>
        {
            attempts++;
            c.RequestStop(StopMode.Stop);
            if (attempts < 3) throw ConnectionLost();
            return Task.FromResult(RunOutcome.Completed("drained"));
        });
        Assert.Equal(SyncTaskStatus.Completed, outcome.Status);
        Assert.Equal(3, attempts);
        // Both waits, with the stop pending (its token cancelled), still backed off: 1 s and 2 s on the stepping clock.
        Assert.True(clock.GetUtcNow() - started >= TimeSpan.FromSeconds(3), $"the retries waited {clock.GetUtcNow() - started}");
    }

    [Fact]
    public async Task ANormalStopDuringTheBackoffGoesOnToTheNextAttemptAtOnce()
    {
        // A clock whose waits never end by themselves: only the stop can end the first backoff.
        var clock = new StalledClock();
        using var context = Context(clock);
        var attempts = 0;
        var run = TaskRunner.RunWithRetriesAsync(context, _ =>
        {
            if (++attempts == 1) throw ConnectionLost();
            return Task.FromResult(RunOutcome.Completed("drained"));
        });
        await clock.Waiting.WaitAsync(TimeSpan.FromSeconds(30));
        context.RequestStop(StopMode.Stop);
        var outcome = await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(SyncTaskStatus.Completed, outcome.Status);
        Assert.Equal(2, attempts);
    }

    /// <summary>
    /// The worker's process asked to end (SIGTERM) while a normal stop waits for the source: the pause it asks for is
    /// outranked by the stop, so the end of the process itself ends the wait, and the run ends Stopped without its drain,
    /// saying so, instead of retrying for the rest of the window.
    /// </summary>
    [Fact]
    public async Task TheEndOfTheProcessEndsTheWaitsOfAStopThatCannotDrain()
    {
        var clock = new StalledClock();
        using var ending = new CancellationTokenSource();
        var service = new TaskService(_temp.Store);
        TestTasks.CreateOffline(service, "retry");
        using var context = new TaskRunContext(_temp.Store, _temp.Store.ReadDefinition("retry"), NullLoggerFactory.Instance, clock) { ProcessEnding = ending.Token };
        var attempts = 0;
        var run = TaskRunner.RunWithRetriesAsync(context, c =>
        {
            attempts++;
            c.RequestStop(StopMode.Stop);
            throw ConnectionLost();
        });
        await clock.Waiting.WaitAsync(TimeSpan.FromSeconds(30));
        context.RequestStop(StopMode.Pause);
        await ending.CancelAsync();
        var outcome = await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(SyncTaskStatus.Stopped, outcome.Status);
        Assert.Equal(1, attempts);
        Assert.StartsWith("Stopped without its drain", outcome.Message);
        Assert.Contains("connection to the source was lost", outcome.Message);
    }

    [Fact]
    public async Task AForcedStopIsNotRetried()
    {
        using var context = Context(new SteppingClock());
        var attempts = 0;
        await Assert.ThrowsAsync<SyncException>(() => TaskRunner.RunWithRetriesAsync(context, c =>
        {
            attempts++;
            c.RequestStop(StopMode.Force);
            throw ConnectionLost();
        }));
        Assert.Equal(1, attempts);
    }

    /// <summary>Real time for timestamps; its timers never fire, and <see cref="Waiting"/> completes when the first is made.</summary>
    private sealed class StalledClock : TimeProvider
    {
        private readonly TaskCompletionSource _waiting = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Waiting => _waiting.Task;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            _waiting.TrySetResult();
            return new NeverTimer();
        }

        private sealed class NeverTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;
            public void Dispose() { }
            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
