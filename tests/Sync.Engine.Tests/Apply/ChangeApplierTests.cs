using Npgsql;
using Sync.Engine.Apply;
using Sync.Engine.Diagnostics;
using Sync.Engine.Stream;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Apply;

/// <summary>The applier's own transaction handling against a real destination.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ChangeApplierTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AGroupWhoseCheckpointCannotBeRecordedFailsAsACheckpointErrorAndCommitsNothing(bool withChange)
    {
        await using var db = await postgres.CreateDatabasesAsync($"{nameof(AGroupWhoseCheckpointCannotBeRecordedFailsAsACheckpointErrorAndCommitsNothing)}{withChange}");
        await db.OnDestinationAsync("CREATE TABLE applied (id int PRIMARY KEY)");
        var task = new TaskService(_temp.Store).Create($"applier-{(withChange ? 2 : 1)}", TestTasks.Endpoint(db.SourceCluster, db.Name), TestTasks.Endpoint(db.DestinationCluster, db.Name)).Definition;
        await using var connection = new NpgsqlConnection(db.DestinationConnectionString);
        await connection.OpenAsync();
        var checkpoint = await Checkpoint.OpenAsync(connection, task, CancellationToken.None);
        try
        {
            Assert.True(checkpoint.UsesOrigin);
            var applier = new ChangeApplier(connection, checkpoint, task.Name, TimeProvider.System);
            // The session loses its origin: recording the checkpoint (the group's only statement) fails on the server.
            await using (var reset = new NpgsqlCommand("SELECT pg_replication_origin_session_reset()", connection)) await reset.ExecuteNonQueryAsync();

            applier.BeginSourceTransaction();
            if (withChange)
                await applier.AddAsync(new ApplyStatement("INSERT INTO applied VALUES ($1::int) RETURNING true", ["1"], null!, StatementMeaning.Insert, null, null), CancellationToken.None);
            applier.EndSourceTransaction(new CommitEvent(new SyncLsn(0x10), new SyncLsn(0x20), DateTimeOffset.UtcNow), counted: withChange);
            var error = await Assert.ThrowsAsync<SyncException>(() => applier.CommitGroupAsync(_ => { }, CancellationToken.None));
            Assert.StartsWith($"Recording the checkpoint of task '{task.Name}' on the destination failed", error.Message);
            Assert.IsType<PostgresException>(error.InnerException);
            Assert.Equal(error.Retriable ? error.ErrorId : ErrorIds.CheckpointCorrupt, error.ErrorId);
            Assert.False(error.Retriable);

            await applier.RollbackAsync();
            Assert.False(applier.GroupOpen);
            Assert.Equal(default, applier.Committed);
            // The change went back with the group; the session is usable again and outside any transaction.
            await using (var count = new NpgsqlCommand("SELECT count(*) FROM applied", connection)) Assert.Equal(0L, await count.ExecuteScalarAsync());
            // Outside a transaction block, a savepoint is refused.
            await using var savepoint = new NpgsqlCommand("SAVEPOINT probe", connection);
            Assert.Equal("25P01", (await Assert.ThrowsAsync<PostgresException>(() => savepoint.ExecuteNonQueryAsync())).SqlState);
        }
        finally
        {
            // Origins are the cluster's, not the database's: dropped from a session of their own, after this one ends.
            await connection.CloseAsync();
            await using var cleanup = new NpgsqlConnection(db.DestinationConnectionString);
            await cleanup.OpenAsync();
            await using var drop = new NpgsqlCommand("SELECT pg_replication_origin_drop($1) WHERE pg_replication_origin_oid($1) IS NOT NULL", cleanup);
            drop.Parameters.AddWithValue(TaskNaming.OriginName(task));
            await drop.ExecuteNonQueryAsync();
        }
    }
}
