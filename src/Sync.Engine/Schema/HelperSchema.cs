using Npgsql;
using Sync.Engine.Catalog;
using Sync.Engine.Connections;
using Sync.Engine.Tasks;

namespace Sync.Engine.Schema;

/// <summary>The schema that holds tasks' helper tables on a server, shared by every task using that database.</summary>
public static class HelperSchema
{
    /// <summary>
    /// True when the schema exists, belongs to the connected user (one made for it by someone else is not the tasks' to
    /// drop) and holds nothing (no relation, type or function).
    /// </summary>
    public static async Task<bool> IsEmptyAsync(NpgsqlConnection connection, CancellationToken ct) =>
        await connection.ScalarAsync<long>(
            "SELECT count(*) FROM pg_namespace n WHERE n.nspname = $1 AND pg_has_role(n.nspowner, 'USAGE') AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid) " +
            "AND NOT EXISTS (SELECT 1 FROM pg_type t WHERE t.typnamespace = n.oid) AND NOT EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = n.oid)", ct,
            TaskNaming.HelperSchema).ConfigureAwait(false) > 0;

    /// <summary>
    /// Creates the schema when it is missing. CREATE SCHEMA IF NOT EXISTS would ask for CREATE on the database even when
    /// the schema exists, so a user given a schema made for it (and nothing more) could not use it.
    /// </summary>
    public static async Task EnsureAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        if (await connection.ScalarAsync<long>("SELECT count(*) FROM pg_namespace WHERE nspname = $1", ct, TaskNaming.HelperSchema).ConfigureAwait(false) > 0) return;
        try { await connection.ExecuteAsync($"CREATE SCHEMA IF NOT EXISTS {Identifier.Quote(TaskNaming.HelperSchema)}", ct).ConfigureAwait(false); }
        catch (PostgresException e) when (e.SqlState is "23505" or "42P06") { } // another task made it at the same moment
    }

    /// <summary>True when the helper schema holds a relation of this name.</summary>
    public static async Task<bool> HasTableAsync(NpgsqlConnection connection, string table, CancellationToken ct) =>
        await connection.ScalarAsync<long>(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2", ct,
            TaskNaming.HelperSchema, table).ConfigureAwait(false) > 0;

    public static string DropSql => $"DROP SCHEMA IF EXISTS {Identifier.Quote(TaskNaming.HelperSchema)}";

    /// <summary>Drops the schema when it is empty; another task that just put a table in it keeps it.</summary>
    public static async Task DropIfEmptyAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        if (!await IsEmptyAsync(connection, ct).ConfigureAwait(false)) return;
        // Still in use by another task that just made a table (2BP01), or owned by someone else (42501): it stays.
        try { await connection.ExecuteAsync(DropSql, ct).ConfigureAwait(false); }
        catch (PostgresException e) when (e.SqlState is "2BP01" or "42501") { }
    }
}
