using Npgsql.Replication;
using Sync.Engine.Stream;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Stream;

/// <summary>The stream socket's low-water mark, raised while a burst gathers: found in this Npgsql version, set within the buffer, and set back.</summary>
[Collection(PostgresCollection.Name)]
public sealed class QuietSocketTests(PostgresFixture postgres)
{
    [Fact]
    public async Task TheReplicationSocketIsFoundAndItsLowWaterMarkIsRaisedForAPauseWithinItsBufferAndLoweredAfter()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await using var connection = new LogicalReplicationConnection(db.SourceConnectionString);
        await connection.Open();

        var quiet = QuietSocket.Of(connection);
        if (!OperatingSystem.IsLinux())
        {
            // Elsewhere the mark does not decide readiness the same way: the reader gathers without it.
            Assert.Null(quiet);
            return;
        }
        // Null here means the driver moved its socket: the reader would then be woken for every message again.
        Assert.NotNull(quiet);
        Assert.Equal(1, quiet.LowWater);
        var buffer = quiet.ReceiveBuffer;
        quiet.Hold();
        Assert.InRange(quiet.LowWater, 2, Math.Min(QuietSocket.HoldBytes, buffer / 4));
        // A mark that needed more room would have grown the buffer and pinned the receive window.
        Assert.Equal(buffer, quiet.ReceiveBuffer);
        quiet.Release();
        Assert.Equal(1, quiet.LowWater);
    }
}
