using System.Collections.Concurrent;
using Npgsql;
using Sync.Engine.Diagnostics;

namespace Sync.Engine.Snapshot;

/// <summary>
/// The parallel full copy: a pool of workers, each with a source connection inside the task's snapshot and a
/// destination connection, takes range jobs from one queue (largest tables first). The snapshot lease may be
/// released once every worker has imported it (<see cref="AllImported"/>). The first failure stops every worker.
/// </summary>
public sealed class SnapshotCopier(NpgsqlDataSource source, NpgsqlDataSource destination, CopyProgressTable progressTable, FlowLimiter limiter,
    ConflictPolicy policy, ICopyProgress progress, Action<Schema.ScopedTable>? onTableCopied = null)
{
    private readonly TaskCompletionSource _allImported = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when every worker holds the snapshot, so its exporter may let go.</summary>
    public Task AllImported => _allImported.Task;

    public async Task CopyAsync(SnapshotLease snapshot, IReadOnlyList<CopyJob> jobs, int workers, CancellationToken ct)
    {
        if (jobs.Count == 0)
        {
            // Nothing to copy (every table was kept from an earlier run): no session may import the snapshot, since
            // its exporter lets go as soon as AllImported completes. A worker started anyway raced that release and
            // failed with 'invalid snapshot identifier' when it lost.
            _allImported.TrySetResult();
            return;
        }
        // Largest pieces first (a range counts as its share of the table), so the tail of the copy is short ranges.
        var ordered = jobs.OrderByDescending(j => j.Table.Source.SizeBytes / Math.Max(1, j.RangeCount)).ToList();
        var queue = new ConcurrentQueue<CopyJob>(ordered);
        var remaining = new ConcurrentDictionary<Catalog.QualifiedName, int>(ordered.GroupBy(j => j.Table.Name).ToDictionary(g => g.Key, g => g.Count()));
        var count = Math.Max(1, Math.Min(workers, ordered.Count));
        var imported = 0;
        using var failure = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var tasks = Enumerable.Range(0, count).Select(_ => Task.Run(async () =>
        {
            try
            {
                await using var src = await source.OpenConnectionAsync(failure.Token).ConfigureAwait(false);
                await snapshot.ImportAsync(src, failure.Token).ConfigureAwait(false);
                if (Interlocked.Increment(ref imported) == count) _allImported.TrySetResult();
                await using var dst = await destination.OpenConnectionAsync(failure.Token).ConfigureAwait(false);
                await PrepareDestinationAsync(dst, failure.Token).ConfigureAwait(false);
                while (queue.TryDequeue(out var job))
                {
                    failure.Token.ThrowIfCancellationRequested();
                    try
                    {
                        await RangeCopier.CopyAsync(src, dst, job, progressTable, snapshot.Lsn, policy, limiter, progress, failure.Token).ConfigureAwait(false);
                        if (remaining.AddOrUpdate(job.Table.Name, 0, (_, n) => n - 1) == 0) onTableCopied?.Invoke(job.Table);
                    }
                    catch (Exception e) when (e is NpgsqlException or IOException)
                    {
                        throw CopyFailure(job, e);
                    }
                }
            }
            catch
            {
                // The driver's cancel requests for the other sessions' COPY are synchronous round trips: off this thread.
                await failure.CancelAsync().ConfigureAwait(false);
                _allImported.TrySetResult();
                throw;
            }
        }, failure.Token)).ToList();
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch
        {
            // Report the first real failure, not the cancellations it caused in the other workers.
            var first = tasks.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).FirstOrDefault(e => e is not OperationCanceledException);
            if (first is not null && !ct.IsCancellationRequested) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
            throw;
        }
    }

    /// <summary>
    /// Destination copy sessions: asynchronous commit (each range's rows and its progress record are one transaction,
    /// so a server crash loses both or neither), and replica mode so triggers of existing tables do not fire.
    /// </summary>
    private static async Task PrepareDestinationAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using (var command = new NpgsqlCommand("SET synchronous_commit = off", connection))
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        try
        {
            await using var replica = new NpgsqlCommand("SET session_replication_role = replica", connection);
            await replica.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState == "42501")
        {
            // Not allowed for this role: the precheck warned; tables created by the task have no triggers during the copy.
        }
    }

    private static SyncException CopyFailure(CopyJob job, Exception e)
    {
        var info = ErrorClassifier.Classify(e, job.Table.Name.ToString());
        return new SyncException(info.Category == SyncErrorCategory.ConnectionError ? info.ErrorId : ErrorIds.CopyFailed, info.Category,
            $"Copying {job.Table.Name} (range {job.Range.Index + 1} of {job.RangeCount}) to {job.Table.Destination} failed: {info.Message}",
            job.Table.Name.ToString(), info.Retriable, e, (e as PostgresException)?.SqlState);
    }
}
