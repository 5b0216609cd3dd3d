using Npgsql;
using Sync.Engine.Catalog;
using Sync.Engine.Connections;
using Sync.Engine.Tasks;

namespace Sync.Engine.Schema;

/// <summary>The schema that holds tasks' helper tables on a server, shared by every task using that database.</summary>
public static class HelperSchema
{
    /// <summary>True when the schema exists and holds nothing (no relation, type or function).</summary>
    public static async Task<bool> IsEmptyAsync(NpgsqlConnection connection, CancellationToken ct) =>
        await connection.ScalarAsync<long>(
            "SELECT count(*) FROM pg_namespace n WHERE n.nspname = $1 AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid) " +
            "AND NOT EXISTS (SELECT 1 FROM pg_type t WHERE t.typnamespace = n.oid) AND NOT EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = n.oid)", ct,
            TaskNaming.HelperSchema).ConfigureAwait(false) > 0;

    public static string DropSql => $"DROP SCHEMA IF EXISTS {Identifier.Quote(TaskNaming.HelperSchema)}";

    /// <summary>Drops the schema when it is empty; another task that just put a table in it keeps it.</summary>
    public static async Task DropIfEmptyAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        if (!await IsEmptyAsync(connection, ct).ConfigureAwait(false)) return;
        try { await connection.ExecuteAsync(DropSql, ct).ConfigureAwait(false); }
        catch (PostgresException e) when (e.SqlState == "2BP01") { }
    }
}
