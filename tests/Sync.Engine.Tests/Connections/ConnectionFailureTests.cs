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

    /// <summary>A slot that cannot be made for lack of logical decoding fails the task with the server's words, not as "cannot connect" retried for hours.</summary>
    [Fact]
    public void ASlotRefusedForTheServersSettingsIsClassifiedAsWhatItIs()
    {
        var info = ErrorClassifier.Classify(Server("55000", "logical decoding requires wal_level >= logical"));
        Assert.False(info.Retriable);
        Assert.DoesNotContain("connect", info.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("wal_level", info.Message, StringComparison.Ordinal);
    }
}
