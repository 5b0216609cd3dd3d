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
        Assert.Empty(coordinator.Advance(new SyncLsn(100)));
        Assert.False(coordinator.TryHandOver(Orders, new SyncLsn(100)));   // the stream already began a transaction at 100
        Assert.True(coordinator.TryHandOver(Orders, new SyncLsn(150)));
        Assert.True(coordinator.HasWork);
        Assert.Empty(coordinator.Advance(new SyncLsn(149)));              // still the table sync's: it applied commits < 150
        var taken = Assert.Single(coordinator.Advance(new SyncLsn(150)));
        Assert.Equal(new SyncLsn(150), taken.Boundary);
        Assert.Equal(Orders, taken.Tables);
        Assert.False(coordinator.HasWork);
        Assert.False(coordinator.TryHandOver(Orders, new SyncLsn(120)));   // the stream's position never goes back
    }

    [Fact]
    public async Task AFreezeIsAcknowledgedOnlyByTheStreamAndWithdrawsAHandOverNotYetTaken()
    {
        var coordinator = new BackfillCoordinator();
        Assert.True(coordinator.TryHandOver(["public.orders", "public.items"], new SyncLsn(500)));
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
    public void ATableSyncFailureStaysVisibleAfterTheLastHandOverIsTaken()
    {
        var coordinator = new BackfillCoordinator();
        Assert.True(coordinator.TryHandOver(Orders, new SyncLsn(10)));
        coordinator.Fail(new InvalidOperationException("copy failed"));
        Assert.Single(coordinator.Advance(new SyncLsn(20)));
        Assert.True(coordinator.HasWork);
        Assert.Equal("copy failed", Assert.Throws<InvalidOperationException>(coordinator.ThrowIfFailed).Message);
    }
}
