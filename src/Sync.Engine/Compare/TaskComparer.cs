using Npgsql;
using Sync.Engine.Catalog;
using Sync.Engine.Connections;
using Sync.Engine.Schema;
using Sync.Engine.Tasks;

namespace Sync.Engine.Compare;

/// <summary>Compares every table of a task (or those matching <c>tables</c>), several tables at a time.</summary>
public sealed class TaskComparer(ConnectionFactory connections)
{
    public async Task<ComparisonReport> CompareAsync(TaskInfo task, ComparisonLevel level, IReadOnlyList<string>? tables, int sampleSize,
        Action<TableComparisonResult>? onTable, CancellationToken ct)
    {
        var definition = task.Definition;
        await using var source = connections.CreateDataSource(definition.Source, $"sync:{definition.Name}:compare", 8);
        await using var destination = connections.CreateDataSource(definition.Destination, $"sync:{definition.Name}:compare", 8);
        var started = DateTimeOffset.UtcNow;
        TaskScope scope;
        string lsn;
        await using (var connection = await ConnectionFactory.OpenAsync(source, ServerSide.Source, definition.Source, ct).ConfigureAwait(false))
        {
            await using (var position = new NpgsqlCommand("SELECT pg_current_wal_lsn()::text", connection))
                lsn = (string)(await position.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
            scope = ScopeResolver.Resolve(definition, await CatalogReader.ReadAsync(connection, includeFunctions: false, ct).ConfigureAwait(false));
        }
        var patterns = tables?.Select(NamePattern.ForTable).ToArray();
        var selected = scope.Tables
            .Where(t => t.Source.HoldsData || t.Source.Kind == 'm')
            .Where(t => patterns is null || patterns.Any(p => p.MatchesTable(t.Name) || p.MatchesTable(t.Destination)))
            .ToList();
        var comparer = new TableComparer(source, destination);
        var results = new TableComparisonResult[selected.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, selected.Count), new ParallelOptions { MaxDegreeOfParallelism = 3, CancellationToken = ct }, async (i, token) =>
        {
            results[i] = await comparer.CompareAsync(selected[i], level, sampleSize, token).ConfigureAwait(false);
            onTable?.Invoke(results[i]);
        }).ConfigureAwait(false);
        return new ComparisonReport
        {
            Tables = results, SourceLsn = lsn, StartedAt = started, CompletedAt = DateTimeOffset.UtcNow,
            TaskWasStreaming = task.IsRunning && task.State.Stage == SyncTaskStage.RealtimeSync,
        };
    }
}
