using Sync.Engine.Runtime.Backfill;

namespace Sync.Engine.Tests.Runtime;

/// <summary>The hand-over rules between the stream and a table sync, without servers.</summary>
public sealed class BackfillCoordinatorTests
{
    private static readonly string[] Orders = ["public.orders"];

    [Fact]
    public void AHandOverIsAcceptedOnlyBeforeTheStreamReachesItsBoundaryAndTakenAtTheFirstPositionAtOrAfterIt()
    {
        var coordinator = new BackfillCoordinator();
        var catchUp = coordinator.BeginCatchUp(Orders);
        Assert.Empty(coordinator.Advance(new SyncLsn(100)));
        Assert.False(coordinator.TryHandOver(catchUp, new SyncLsn(100), out var stream));   // the stream already began a transaction at 100
        Assert.Equal(new SyncLsn(100), stream);
        Assert.False(coordinator.HasWork);
        Assert.True(coordinator.TryHandOver(catchUp, new SyncLsn(150), out _));
        Assert.True(coordinator.HasWork);
        Assert.Empty(coordinator.Advance(new SyncLsn(149)));              // still the table sync's: it applied commits < 150
        var taken = Assert.Single(coordinator.Advance(new SyncLsn(150)));
        Assert.Equal(new SyncLsn(150), taken.Boundary);
        Assert.Equal(Orders, taken.Tables);
        Assert.True(taken.Applied.IsCompletedSuccessfully);               // nothing to wait for
        Assert.False(coordinator.HasWork);
        Assert.False(coordinator.TryHandOver(coordinator.BeginCatchUp(Orders), new SyncLsn(120), out _));   // the stream's position never goes back
    }

    [Fact]
    public async Task AFreezeIsAcknowledgedOnlyByTheStreamAndWithdrawsAHandOverNotYetTaken()
    {
        var coordinator = new BackfillCoordinator();
        Assert.True(coordinator.TryHandOver(coordinator.BeginCatchUp(["public.orders", "public.items"]), new SyncLsn(500), out _));
        var freeze = coordinator.FreezeAsync(Orders, CancellationToken.None);
        Assert.False(freeze.IsCompleted);
        var freezes = coordinator.TakeFreezes();
        Assert.False(freeze.IsCompleted);                                  // not before the stream has committed
        BackfillCoordinator.Acknowledge(freezes);
        await freeze;
        // orders is being copied again: only items is handed back at 500.
        var taken = Assert.Single(coordinator.Advance(new SyncLsn(600)));
        Assert.Equal(["public.items"], taken.Tables);
    }

    [Fact]
    public void ABarrierLiesAtTheStreamsNextPositionAndTheTableSyncBeginsNothingAtOrAfterIt()
    {
        var coordinator = new BackfillCoordinator();
        var catchUp = coordinator.BeginCatchUp(Orders);
        Assert.Empty(coordinator.Advance(new SyncLsn(300)));
        Assert.True(coordinator.MayApply(catchUp, new SyncLsn(200)));
        Assert.False(coordinator.TryHandOver(catchUp, new SyncLsn(201), out _));
        coordinator.RequestBarrier(catchUp);
        Assert.True(coordinator.HasWork);
        Assert.True(coordinator.MayApply(catchUp, new SyncLsn(250)));      // before the stream sets the barrier: the table sync's
        var taken = Assert.Single(coordinator.Advance(new SyncLsn(320)));  // the stream's next transaction
        Assert.Equal(new SyncLsn(320), taken.Boundary);
        Assert.False(taken.Applied.IsCompleted);                            // the stream waits here
        Assert.True(coordinator.MayApply(catchUp, new SyncLsn(310)));       // committed before the barrier: the table sync applies it
        Assert.False(coordinator.ReachedBarrier(catchUp, new SyncLsn(315)));
        Assert.False(coordinator.MayApply(catchUp, new SyncLsn(320)));      // the stream's
        Assert.False(coordinator.TryHandOver(catchUp, new SyncLsn(400), out _));   // no second boundary
        BackfillCoordinator.Finish(catchUp);
        Assert.True(taken.Applied.IsCompletedSuccessfully);
        Assert.False(coordinator.HasWork);
    }

    [Fact]
    public void ABarrierLiesAfterATransactionTheTableSyncBeganBeyondTheStream()
    {
        var coordinator = new BackfillCoordinator();
        var catchUp = coordinator.BeginCatchUp(Orders);
        Assert.Empty(coordinator.Advance(new SyncLsn(300)));
        coordinator.RequestBarrier(catchUp);
        Assert.True(coordinator.MayApply(catchUp, new SyncLsn(350)));      // the table sync is already applying 350
        Assert.Empty(coordinator.Advance(new SyncLsn(340)));               // so the stream leaves 340 and 350 to it
        Assert.True(coordinator.MayApply(catchUp, new SyncLsn(350)));
        Assert.False(coordinator.MayApply(catchUp, new SyncLsn(351)));
        Assert.True(coordinator.ReachedBarrier(catchUp, new SyncLsn(351)));
        Assert.Empty(coordinator.Advance(new SyncLsn(350)));
        var taken = Assert.Single(coordinator.Advance(new SyncLsn(360)));
        Assert.Equal(new SyncLsn(351), taken.Boundary);
    }

    [Fact]
    public async Task ATableSyncFailureStaysVisibleAndReleasesAStreamWaitingAtABarrier()
    {
        var coordinator = new BackfillCoordinator();
        var catchUp = coordinator.BeginCatchUp(Orders);
        coordinator.RequestBarrier(catchUp);
        var taken = Assert.Single(coordinator.Advance(new SyncLsn(20)));
        coordinator.Fail(new InvalidOperationException("copy failed"));
        Assert.Equal("copy failed", (await Assert.ThrowsAsync<InvalidOperationException>(() => taken.Applied.WaitAsync(TimeSpan.FromSeconds(10)))).Message);
        Assert.True(coordinator.HasWork);
        Assert.Equal("copy failed", Assert.Throws<InvalidOperationException>(coordinator.ThrowIfFailed).Message);
    }
}
