using Npgsql;
using Sync.Engine.Connections;
using Sync.Engine.Diagnostics;

namespace Sync.Engine.Tests.Connections;

/// <summary>
/// What counts as a failure of the connection (retried in the connection window, reported as "cannot connect") and what
/// is a server's answer to a command on it, classified as what it is.
/// </summary>
public sealed class ConnectionFailureTests
{
    private static PostgresException Server(string sqlState, string message) => new(message, "ERROR", "ERROR", sqlState);

    [Theory]
    [InlineData("08006", true)]
    [InlineData("28P01", true)]
    [InlineData("3D000", true)]
    [InlineData("57P01", true)]
    [InlineData("53300", true)]
    [InlineData("55000", false)]
    [InlineData("53400", false)]
    [InlineData("42710", false)]
    [InlineData("42501", false)]
    public void AServersAnswerToACommandIsNotAConnectionFailure(string sqlState, bool connection) =>
        Assert.Equal(connection, ConnectionFactory.IsConnectionFailure(Server(sqlState, "x")));

    [Fact]
    public void LostSocketsAndTimeoutsAreConnectionFailures()
    {
        Assert.True(ConnectionFactory.IsConnectionFailure(new NpgsqlException("Exception while reading from stream", new IOException("reset"))));
        Assert.True(ConnectionFactory.IsConnectionFailure(new TimeoutException()));
        Assert.False(ConnectionFactory.IsConnectionFailure(new InvalidOperationException()));
    }

    /// <summary>
    /// A slot the source would not make names the source and the slot. A name still taken (an earlier attempt's
    /// temporary slot) is retried; a refusal for the server's settings fails with the server's words, not as "cannot
    /// connect" retried for hours.
    /// </summary>
    [Fact]
    public void ASlotTheSourceWouldNotMakeNamesItAndIsRetriedOnlyWhenItsNameIsStillTaken()
    {
        var endpoint = new Sync.Engine.Tasks.EndpointDefinition { Host = "db1", Port = 5433, Database = "shop", Username = "sync" };
        var taken = ConnectionFactory.SlotRefused(endpoint, "sync_t_ab_t42", Server("42710", "replication slot \"sync_t_ab_t42\" already exists"), "t");
        Assert.True(taken.Retriable);
        Assert.Equal(SyncErrorCategory.ResourceBusy, taken.Category);
        Assert.Contains("sync_t_ab_t42", taken.Message, StringComparison.Ordinal);
        Assert.Contains("db1", taken.Message, StringComparison.Ordinal);
        var settings = ConnectionFactory.SlotRefused(endpoint, "sync_t_ab", Server("55000", "logical decoding requires wal_level >= logical"), "t");
        Assert.False(settings.Retriable);
        Assert.Contains("wal_level", settings.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("connect", settings.Message, StringComparison.OrdinalIgnoreCase);
    }
}
