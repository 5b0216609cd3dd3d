using Npgsql.Replication;
using Sync.Engine.Stream;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Stream;

/// <summary>The stream socket's low-water mark, raised while a burst gathers: found in this Npgsql version, set within the buffer, and set back.</summary>
[Collection(PostgresCollection.Name)]
public sealed class QuietSocketTests(PostgresFixture postgres)
{
    [Fact]
    public async Task AConnectionNotOpenYetHasNoSocketToHold()
    {
        // The driver's connector getter throws for it: the reader then gathers without the mark, it does not fail.
        await using var connection = new LogicalReplicationConnection("Host=127.0.0.1;Port=1;Username=nobody");
        Assert.Null(QuietSocket.Of(connection));
    }

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

    /// <summary>
    /// A pause on a held socket ends when the connection ends (here the server ends the session), not only when its time
    /// is up, and the read after it reports the end: a stream that breaks during a pause is not held up by it.
    /// </summary>
    [Fact]
    public async Task APauseOnAHeldSocketEndsWhenTheServerEndsTheSessionAndTheNextReadReportsIt()
    {
        if (!OperatingSystem.IsLinux()) return;
        await using var db = await postgres.CreateDatabasesAsync();
        await using var connection = new LogicalReplicationConnection(db.SourceConnectionString + ";Application Name=quiet-socket-wait");
        await connection.Open();
        var quiet = QuietSocket.Of(connection)!;

        quiet.Hold();
        var pause = Task.Run(() => quiet.Wait(TimeSpan.FromMinutes(10)));
        // Nothing arrives on a quiet replication session: the pause holds until something ends it.
        await Task.Delay(200);
        Assert.False(pause.IsCompleted);
        Assert.True(await db.SourceScalarAsync<bool>("SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'quiet-socket-wait'"));
        // Ten minutes unless the end of the session ends the pause; the test's own limit is far shorter.
        await pause.WaitAsync(TimeSpan.FromSeconds(60));
        quiet.Release();
        await Assert.ThrowsAnyAsync<Npgsql.NpgsqlException>(() => connection.IdentifySystem());
    }
}
