using Npgsql.Replication;
using Sync.Engine.Stream;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Stream;

/// <summary>The stream socket's low-water mark, raised while a burst gathers: found in this Npgsql version, set, and set back.</summary>
[Collection(PostgresCollection.Name)]
public sealed class QuietSocketTests(PostgresFixture postgres)
{
    [Fact]
    public async Task TheReplicationSocketIsFoundAndItsLowWaterMarkIsRaisedForAPauseAndLoweredAfter()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        await using var connection = new LogicalReplicationConnection(db.SourceConnectionString);
        await connection.Open();

        // Null here means the driver moved its socket: the reader would then be woken for every message again.
        var quiet = QuietSocket.Of(connection);
        Assert.NotNull(quiet);
        Assert.Equal(1, quiet.LowWater);
        quiet.Hold();
        Assert.Equal(QuietSocket.HoldBytes, quiet.LowWater);
        quiet.Release();
        Assert.Equal(1, quiet.LowWater);
    }
}
