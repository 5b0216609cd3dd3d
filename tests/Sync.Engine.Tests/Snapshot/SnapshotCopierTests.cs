using Npgsql;
using Sync.Engine.Snapshot;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Snapshot;

[Collection(PostgresCollection.Name)]
public sealed class SnapshotCopierTests(PostgresFixture postgres) : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// A worker resumed after its copy finished keeps every table, so the copier gets no ranges. It must then open no
    /// session at all: the snapshot's exporter lets go the moment AllImported completes, and a session that imported
    /// after that failed the task with 'invalid snapshot identifier' (the kill test's CI failure, a race it lost once).
    /// Here the copier's servers are unreachable, so any session it tried to open would fail the copy.
    /// </summary>
    [Fact]
    public async Task WithNothingToCopyNoSessionImportsTheSnapshot()
    {
        await using var db = await postgres.CreateDatabasesAsync();
        var task = TestTasks.CreateOffline(new TaskService(_temp.Store), "copier-empty").Definition;
        await using var source = NpgsqlDataSource.Create(db.SourceConnectionString);
        await using var lease = await SnapshotLease.ExportAsync(source, CancellationToken.None);
        await using var nowhere = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Database=none;Username=none;Timeout=2");
        var copier = new SnapshotCopier(nowhere, nowhere, new CopyProgressTable(task), new FlowLimiter(new FlowControl(), TimeProvider.System),
            ConflictPolicy.Fail, new NoProgress());

        await copier.CopyAsync(lease, [], workers: 4, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(copier.AllImported.IsCompletedSuccessfully);
    }

    private sealed class NoProgress : ICopyProgress
    {
        public void RangeStarted(CopyJob job) => throw new InvalidOperationException($"no range should start, {job.Table.Name} did");
        public void Transferred(CopyJob job, long bytes, long rows) { }
        public void RangeCommitted(CopyJob job, long rows, long bytes) { }
    }
}
