using Npgsql;

namespace Sync.Engine.Schema;

/// <summary>
/// Builds a table's indexes and constraints as soon as its copy is done, while other tables are still copying (as
/// pgcopydb does). Index builds of one table run in parallel (CREATE INDEX takes a share lock); the steps that need the
/// exclusive lock (attaching keys, CHECK, EXCLUDE) follow on one connection. At most <c>parallelism</c> statements run at once.
/// </summary>
public sealed class IndexBuilder(NpgsqlDataSource destination, int parallelism, CancellationToken ct)
{
    private readonly SemaphoreSlim _slots = new(Math.Max(1, parallelism));
    private readonly List<Task> _tables = [];
    private readonly object _gate = new();

    public void Enqueue(IReadOnlyList<DdlStep> steps)
    {
        if (steps.Count == 0) return;
        lock (_gate) _tables.Add(Task.Run(() => BuildAsync(steps), ct));
    }

    public Task CompletionAsync()
    {
        lock (_gate) return Task.WhenAll(_tables.ToArray());
    }

    private async Task BuildAsync(IReadOnlyList<DdlStep> steps)
    {
        await Task.WhenAll(steps.Where(s => s.Kind == SchemaBuilder.IndexKind).Select(step => RunAsync([step]))).ConfigureAwait(false);
        await RunAsync(steps.Where(s => s.Kind != SchemaBuilder.IndexKind).ToList()).ConfigureAwait(false);
    }

    private async Task RunAsync(IReadOnlyList<DdlStep> steps)
    {
        if (steps.Count == 0) return;
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await using var connection = await destination.OpenConnectionAsync(ct).ConfigureAwait(false);
            await SchemaMigrator.PrepareSessionAsync(connection, ct).ConfigureAwait(false);
            await using (var settings = new NpgsqlCommand("SET maintenance_work_mem = '256MB'", connection))
                await settings.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            foreach (var step in steps) await SchemaMigrator.RunStepAsync(connection, step, ct).ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }
}
