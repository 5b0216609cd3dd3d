using Sync.Engine.Snapshot;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Snapshot;

/// <summary>The copy's flow control on a clock the test moves: limits hold on average, windows and live changes apply.</summary>
public sealed class FlowLimiterTests
{
    private static async Task<TimeSpan> CopyAsync(FlowLimiter limiter, SteppingClock clock, int chunks, long bytes, long rows)
    {
        var start = clock.GetUtcNow();
        for (var i = 0; i < chunks; i++) await limiter.WaitAsync(bytes, rows, CancellationToken.None);
        return clock.GetUtcNow() - start;
    }

    [Fact]
    public async Task RowAndByteLimitsHoldOnAverageWhicheverIsTighter()
    {
        var clock = new SteppingClock();
        var rows = new FlowLimiter(new FlowControl { RowsPerSecond = 1000 }, clock);
        // 20,000 rows at 1,000 rows/s: 20 s, less the 0.1 s burst allowance.
        Assert.InRange((await CopyAsync(rows, clock, 200, 1, 100)).TotalSeconds, 19.8, 20.1);

        var both = new FlowLimiter(new FlowControl { RowsPerSecond = 1_000_000, BytesPerSecond = 1_048_576 }, clock);
        // 10 MB at 1 MB/s: the byte limit is the tighter one.
        Assert.InRange((await CopyAsync(both, clock, 80, 131_072, 10)).TotalSeconds, 9.8, 10.1);
    }

    [Fact]
    public async Task LimitsApplyOnlyInsideTheirDailyWindows()
    {
        var local = DateTime.Today.AddHours(3);
        var clock = new SteppingClock(new DateTimeOffset(local, TimeZoneInfo.Local.GetUtcOffset(local)));
        var outside = new FlowLimiter(new FlowControl { RowsPerSecond = 10, Windows = [new FlowWindow { Start = new TimeOnly(9, 0), End = new TimeOnly(17, 0) }] }, clock);
        Assert.Equal(TimeSpan.Zero, await CopyAsync(outside, clock, 50, 1, 100));

        var inside = new FlowLimiter(new FlowControl { RowsPerSecond = 10, Windows = [new FlowWindow { Start = new TimeOnly(22, 0), End = new TimeOnly(6, 0) }] }, clock);
        Assert.True(await CopyAsync(inside, clock, 5, 1, 100) > TimeSpan.FromSeconds(40));
    }

    [Fact]
    public async Task ALimitChangedWhileTheCopyRunsTakesEffectAtOnce()
    {
        var clock = new SteppingClock();
        var limiter = new FlowLimiter(new FlowControl { RowsPerSecond = 100 }, clock);
        Assert.InRange((await CopyAsync(limiter, clock, 10, 1, 100)).TotalSeconds, 9.8, 10.1);
        limiter.Update(new FlowControl { RowsPerSecond = 10_000 });
        Assert.InRange((await CopyAsync(limiter, clock, 10, 1, 100)).TotalSeconds, 0.0, 0.2);
        limiter.Update(new FlowControl());
        Assert.Equal(TimeSpan.Zero, await CopyAsync(limiter, clock, 100, 1_000_000, 100_000));
    }
}
