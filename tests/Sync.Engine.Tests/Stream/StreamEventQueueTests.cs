using Sync.Engine.Stream;

namespace Sync.Engine.Tests.Stream;

/// <summary>The hand-over between the slot reader and the applier: a burst at a time, bounded, errors kept.</summary>
public sealed class StreamEventQueueTests
{
    private static readonly DateTimeOffset At = DateTimeOffset.UnixEpoch;
    private static RowEvent Row(int i) => new(RowChangeKind.Insert, 1, null, false, [i.ToString()], [false]);

    private static List<StreamEvent> Drain(StreamEventQueue queue)
    {
        var read = new List<StreamEvent>();
        while (queue.TryRead(out var e)) read.Add(e!);
        return read;
    }

    [Fact]
    public async Task EventsAreHandedOverWhenTheReaderHasCaughtUpAndTheApplierThenSeesTheStreamIdle()
    {
        var queue = new StreamEventQueue(capacity: 4);
        await queue.AddAsync(new BeginEvent(1, new SyncLsn(10), At), CancellationToken.None);
        await queue.AddAsync(Row(1), CancellationToken.None);
        await queue.AddAsync(new CommitEvent(new SyncLsn(10), new SyncLsn(20), At), CancellationToken.None);
        await queue.AddAsync(new BeginEvent(2, new SyncLsn(30), At), CancellationToken.None);
        // Commits do not hand over on their own: the reader hands over a whole burst when its next read would wait.
        Assert.True(queue.IsEmpty);
        Assert.False(queue.TryRead(out _));

        await queue.AddAsync(new CommitEvent(new SyncLsn(30), new SyncLsn(40), At), CancellationToken.None);
        await queue.CaughtUpAsync(CancellationToken.None);
        Assert.False(queue.IsEmpty);
        Assert.False(queue.IsIdle);
        Assert.Equal(5, Drain(queue).Count);
        Assert.True(queue.IsIdle);

        // Caught up again with nothing new: nothing to hand over, and the applier already knows the stream is idle.
        await queue.CaughtUpAsync(CancellationToken.None);
        Assert.True(queue.IsEmpty);
    }

    [Fact]
    public async Task AFullBatchIsHandedOverAtOnceAndTheApplierWaitsForTheRestUntilTheReaderSaysItHasCaughtUp()
    {
        var queue = new StreamEventQueue(capacity: 4);
        for (var i = 0; i < StreamEventQueue.MaxBatch; i++) await queue.AddAsync(Row(i), CancellationToken.None);
        Assert.Equal(StreamEventQueue.MaxBatch, Drain(queue).Count);
        // More is coming in the same burst: the stream is not idle, so an open group waits for it.
        Assert.True(queue.IsEmpty);
        Assert.False(queue.IsIdle);

        // The reader caught up right at the end of a full batch: an empty hand-over tells the applier so.
        await queue.CaughtUpAsync(CancellationToken.None);
        Assert.True(await queue.WaitToReadAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.False(queue.TryRead(out _));
        Assert.True(queue.IsIdle);
    }

    [Fact]
    public async Task ALargeBurstFlowsInBoundedBatchesAndTheReaderWaitsWhenTheQueueIsFull()
    {
        var queue = new StreamEventQueue(capacity: 2);
        for (var i = 0; i < 2 * StreamEventQueue.MaxBatch; i++) await queue.AddAsync(Row(i), CancellationToken.None);
        // Two full batches fill the queue: the next hand-over waits for the applier.
        for (var i = 0; i < StreamEventQueue.MaxBatch - 1; i++) await queue.AddAsync(Row(i), CancellationToken.None);
        var blocked = queue.AddAsync(Row(-1), CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(blocked.IsCompleted);
        Assert.True(queue.TryRead(out _));
        for (var i = 1; i < StreamEventQueue.MaxBatch; i++) Assert.True(queue.TryRead(out _));
        Assert.True(queue.TryRead(out _)); // the second batch; the first one's slot is free now
        await blocked.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task TheErrorThatEndedTheStreamReachesTheApplierAndAPartialTransactionDoesNot()
    {
        var queue = new StreamEventQueue(capacity: 4);
        await queue.AddAsync(new BeginEvent(1, new SyncLsn(10), At), CancellationToken.None);
        await queue.AddAsync(new CommitEvent(new SyncLsn(10), new SyncLsn(20), At), CancellationToken.None);
        await queue.AddAsync(new HeartbeatEvent(new SyncLsn(25), "p", "x"), CancellationToken.None);
        await queue.AddAsync(new BeginEvent(2, new SyncLsn(30), At), CancellationToken.None);
        await queue.AddAsync(Row(1), CancellationToken.None);
        // A logical message inside the cut-off transaction is part of it, not a boundary.
        await queue.AddAsync(new HeartbeatEvent(new SyncLsn(35), "p", "y"), CancellationToken.None);
        await queue.AddAsync(Row(2), CancellationToken.None);
        queue.Complete(new InvalidOperationException("connection lost"));

        Assert.Collection(Drain(queue), e => Assert.IsType<BeginEvent>(e), e => Assert.IsType<CommitEvent>(e), e => Assert.IsType<HeartbeatEvent>(e));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await queue.WaitToReadAsync(CancellationToken.None));
        Assert.Equal("connection lost", error.Message);
    }

    [Fact]
    public async Task ATransactionBegunInAnEarlierBatchStaysOpenUntilItsCommitWhenAnErrorEndsTheStream()
    {
        var queue = new StreamEventQueue(capacity: 4);
        await queue.AddAsync(new BeginEvent(1, new SyncLsn(10), At), CancellationToken.None);
        await queue.CaughtUpAsync(CancellationToken.None);
        Assert.Single(Drain(queue));
        // The rest of that transaction, cut off: a message in it is no boundary, so none of it is handed over.
        await queue.AddAsync(Row(1), CancellationToken.None);
        await queue.AddAsync(new HeartbeatEvent(new SyncLsn(15), "p", "x"), CancellationToken.None);
        queue.Complete(new InvalidOperationException("connection lost"));
        Assert.Empty(Drain(queue));
    }

    [Fact]
    public async Task AStreamThatEndsNormallyHandsOverEverythingGathered()
    {
        var queue = new StreamEventQueue(capacity: 4);
        await queue.AddAsync(new BeginEvent(1, new SyncLsn(10), At), CancellationToken.None);
        await queue.AddAsync(Row(1), CancellationToken.None);
        queue.Complete();
        Assert.Equal(2, Drain(queue).Count);
        Assert.False(await queue.WaitToReadAsync(CancellationToken.None));
    }

    /// <summary>The worker's last stream line says which side waited for the other: counted at the hand-over and at the applier's wait.</summary>
    [Fact]
    public async Task TheQueueCountsWhoWaitedForWhom()
    {
        var queue = new StreamEventQueue(capacity: 1);
        // The applier finds nothing handed over: it waits for the reader.
        var waiting = queue.WaitToReadAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, queue.ApplierWaits);

        await queue.AddAsync(Row(1), CancellationToken.None);
        await queue.CaughtUpAsync(CancellationToken.None);
        Assert.True(await waiting);
        // The one slot is taken: the next hand-over waits for the applier.
        await queue.AddAsync(Row(2), CancellationToken.None);
        var full = queue.CaughtUpAsync(CancellationToken.None);
        Assert.False(full.IsCompleted);
        Assert.Equal(1, queue.ReaderWaits);
        Assert.Equal(2, Drain(queue).Count);
        await full;
        Assert.Equal(2, queue.HandOvers);
        // Something handed over and not yet read: the applier does not wait.
        await queue.AddAsync(Row(3), CancellationToken.None);
        await queue.CaughtUpAsync(CancellationToken.None);
        Assert.True(await queue.WaitToReadAsync(CancellationToken.None));
        Assert.Equal(1, queue.ApplierWaits);
        Assert.Equal(1, queue.ReaderWaits);
    }
}
