using Npgsql.Replication;
using Sync.Engine.Stream;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Stream;

/// <summary>The slot reader against a real server: it tells its consumer when it has read all the source has sent.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PgOutputReaderTests(PostgresFixture postgres)
{
    [Fact]
    public async Task TheReaderSaysItHasCaughtUpAfterTheLastTransactionTheSourceSentAndLeavesTheSocketAsItFoundIt()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        var slot = "reader_" + db.Name.Replace('-', '_');
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE PUBLICATION reader_pub FOR TABLE t");
        await db.OnSourceAsync($"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");
        // Two source transactions (one command text would be one transaction).
        await db.OnSourceAsync("INSERT INTO t VALUES (1, 'a')");
        await db.OnSourceAsync("INSERT INTO t VALUES (2, 'b')");

        var seen = new List<string>();
        await using (var connection = new LogicalReplicationConnection(db.SourceConnectionString))
        {
            await connection.Open();
            var reader = new PgOutputReader(connection, slot, "reader_pub", messages: false);
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var caughtUp = () =>
            {
                seen.Add("caught up");
                // Both transactions read: the reader has nothing more, so it says so before waiting.
                if (seen.Count(s => s == nameof(CommitEvent)) == 2) stop.Cancel();
                return ValueTask.CompletedTask;
            };
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var e in reader.ReadAsync(null, stop.Token, caughtUp)) seen.Add(e.GetType().Name);
            });
            if (QuietSocket.Of(connection) is { } quiet) Assert.Equal(1, quiet.LowWater);
        }

        // The slot is the cluster's: gone before the database is, whatever the walsender's state.
        await TestTasks.WaitUntilAsync(() => db.TryDropSlotInUse(slot), TimeSpan.FromSeconds(30), $"slot {slot} dropped");
        Assert.Equal(2, seen.Count(s => s == nameof(CommitEvent)));
        Assert.Equal("caught up", seen[^1]);
        Assert.Equal(nameof(CommitEvent), seen.Last(s => s != "caught up"));
        // Nothing of the two transactions is missing or doubled.
        Assert.Equal(2, seen.Count(s => s == nameof(RowEvent)));
        Assert.Equal(2, seen.Count(s => s == nameof(BeginEvent)));
    }

    /// <summary>
    /// A pause that arrives while the stream is starting (received as the worker opened its stream) confirms its
    /// position "now". The driver has nowhere to send it until the stream runs, and threw a NullReferenceException from
    /// its feedback code, so the pause ended the task as Failed (the CI flake of OlderSourceTests.RemovingAPausedTask...).
    /// The position is left to the slot then, as after a lost stream (the next test covers the send while streaming). The
    /// start is raced many times over: each round confirms while the stream's first read, which starts it, is in flight.
    /// </summary>
    [Fact]
    public async Task ConfirmingNowWhileTheStreamStartsDoesNotFailThePause()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        var slot = "starting_" + db.Name.Replace('-', '_');
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION starting_pub FOR TABLE t");
        await db.OnSourceAsync($"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");
        try
        {
            for (var round = 0; round < 30; round++)
            {
                await using var connection = new LogicalReplicationConnection(db.SourceConnectionString);
                await connection.Open();
                var reader = new PgOutputReader(connection, slot, "starting_pub", messages: false);
                using var stop = new CancellationTokenSource();
                await using var events = reader.ReadAsync(null, stop.Token).GetAsyncEnumerator(stop.Token);
                var first = events.MoveNextAsync();
                Exception? failure = null;
                try { await reader.ConfirmNowAsync(new SyncLsn(0x1000), CancellationToken.None); }
                catch (Exception e) { failure = e; }
                await stop.CancelAsync();
                try { await first; }
                catch (Exception e) when (e is OperationCanceledException or Npgsql.PostgresException { SqlState: "57014" }) { }
                Assert.True(failure is null, $"round {round}: {failure}");
            }
        }
        finally
        {
            await TestTasks.WaitUntilAsync(() => db.TryDropSlotInUse(slot), TimeSpan.FromSeconds(30), $"slot {slot} dropped");
        }
    }

    /// <summary>While the stream runs, a position confirmed "now" reaches the source at once: the slot's confirmed position moves to it.</summary>
    [Fact]
    public async Task ConfirmingNowWhileStreamingMovesTheSlotAtOnce()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        var slot = "confirming_" + db.Name.Replace('-', '_');
        await db.OnSourceAsync("CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION confirming_pub FOR TABLE t");
        await db.OnSourceAsync($"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");
        await db.OnSourceAsync("INSERT INTO t VALUES (1)");
        try
        {
            await using var connection = new LogicalReplicationConnection(db.SourceConnectionString);
            await connection.Open();
            var reader = new PgOutputReader(connection, slot, "confirming_pub", messages: false);
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            SyncLsn? end = null;
            try
            {
                await foreach (var e in reader.ReadAsync(null, stop.Token))
                {
                    if (e is not CommitEvent commit) continue;
                    end = commit.EndLsn;
                    // The driver's own status interval is 10 s: a confirmed position seen sooner was sent now.
                    await reader.ConfirmNowAsync(commit.EndLsn, CancellationToken.None);
                    await TestTasks.WaitUntilAsync(
                        async () => SyncLsn.Parse(await db.SourceScalarAsync<string>($"SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '{slot}'")) >= commit.EndLsn,
                        TimeSpan.FromSeconds(5), "the slot to confirm the commit");
                    break;
                }
            }
            catch (OperationCanceledException) { }
            Assert.NotNull(end);
        }
        finally
        {
            await TestTasks.WaitUntilAsync(() => db.TryDropSlotInUse(slot), TimeSpan.FromSeconds(30), $"slot {slot} dropped");
        }
    }
}
