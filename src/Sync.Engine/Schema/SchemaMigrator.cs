using Npgsql;
using Sync.Engine.Diagnostics;

namespace Sync.Engine.Schema;

/// <summary>
/// Runs a <see cref="SchemaPlan"/> on the destination. Steps are idempotent on a rerun after a crash: an object that
/// already exists (created by the interrupted run) counts as done. Types, functions and views run in rounds, so
/// their mutual dependencies resolve without a dependency graph; indexes and constraints run in parallel.
/// </summary>
public static class SchemaMigrator
{
    /// <summary>SQLSTATEs meaning "it is already there": duplicate table/object/schema/function.</summary>
    private static readonly HashSet<string> AlreadyExists = ["42P07", "42710", "42P06", "42723", "42P16"];
    /// <summary>SQLSTATEs meaning "something it needs is not there yet": undefined table/object/function/schema.</summary>
    private static readonly HashSet<string> MissingDependency = ["42P01", "42704", "42883", "3F000"];

    public static async Task PrepareSessionAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            "SET check_function_bodies = off; SET client_min_messages = warning; SET search_path = pg_catalog; SET lock_timeout = '60s'", connection);
        await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public static async Task RunAsync(NpgsqlConnection connection, IEnumerable<DdlStep> steps, CancellationToken ct)
    {
        foreach (var step in steps) await RunStepAsync(connection, step, ct).ConfigureAwait(false);
    }

    /// <summary>Runs steps, retrying those whose dependencies are missing until a round makes no progress.</summary>
    public static async Task RunInRoundsAsync(NpgsqlConnection connection, IReadOnlyList<DdlStep> steps, CancellationToken ct)
    {
        var pending = steps.ToList();
        while (pending.Count > 0)
        {
            var failed = new List<(DdlStep Step, PostgresException Error)>();
            foreach (var step in pending)
            {
                try { await RunStepAsync(connection, step, ct, tolerateMissing: true).ConfigureAwait(false); }
                catch (PostgresException e) when (MissingDependency.Contains(e.SqlState)) { failed.Add((step, e)); }
            }
            if (failed.Count == pending.Count) throw Failure(failed[0].Step, failed[0].Error);
            pending = failed.Select(f => f.Step).ToList();
        }
    }

    public static async Task RunStepAsync(NpgsqlConnection connection, DdlStep step, CancellationToken ct, bool tolerateMissing = false)
    {
        try
        {
            await using var command = new NpgsqlCommand(step.Sql, connection);
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        catch (PostgresException e) when (AlreadyExists.Contains(e.SqlState))
        {
        }
        catch (PostgresException e) when (!(tolerateMissing && MissingDependency.Contains(e.SqlState)))
        {
            // ADD CONSTRAINT ... USING INDEX on a table whose constraint a previous run (or a reset) already attached.
            if (e.SqlState == "55000" && await IsConstraintInPlaceAsync(connection, step, ct).ConfigureAwait(false)) return;
            throw Failure(step, e);
        }
    }

    private static async Task<bool> IsConstraintInPlaceAsync(NpgsqlConnection connection, DdlStep step, CancellationToken ct)
    {
        const string marker = " USING INDEX ";
        var at = step.Sql.LastIndexOf(marker, StringComparison.Ordinal);
        if (at < 0 || step.Table is not { } table) return false;
        var index = Catalog.Identifier.Quote(table.Schema) + "." + step.Sql[(at + marker.Length)..].Trim();
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = to_regclass($1))", connection);
        command.Parameters.AddWithValue(index);
        return (bool)(await command.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
    }

    private static SyncException Failure(DdlStep step, PostgresException e)
    {
        var info = ErrorClassifier.ClassifySqlState(e.SqlState, ErrorClassifier.Describe(e), step.Object);
        var sql = step.Sql.Length > 400 ? step.Sql[..400] + "..." : step.Sql;
        return new SyncException(ErrorIds.SchemaMigrationFailed, info.Category,
            $"Creating {step.Kind.ToLowerInvariant()} {step.Object} on the destination failed: {info.Message} Statement: {sql}",
            step.Object, info.Retriable, e, e.SqlState);
    }
}
