using System.Security.Cryptography;
using Npgsql;

namespace Sync.Engine.Tests.Infrastructure;

/// <summary>
/// Everything an operation could change, as text: both databases' tables with their row counts and content hashes,
/// slots, publications, replication origins, and every file of the task store. Two snapshots compare equal when a
/// -WhatIf (or any read-only step) left everything as it was.
/// </summary>
public static class ServerSnapshot
{
    public static async Task<string> TakeAsync(DatabasePair db, string storeRoot)
    {
        var parts = new List<string>
        {
            "source:" + await DatabaseAsync(db.SourceConnectionString),
            "destination:" + await DatabaseAsync(db.DestinationConnectionString),
        };
        foreach (var file in Directory.EnumerateFiles(storeRoot, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".lock", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            parts.Add($"{Path.GetRelativePath(storeRoot, file)}={Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(file)))}");
        return string.Join("\n", parts);
    }

    private static async Task<string> DatabaseAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var lines = new List<string>();
        var tables = new List<string>();
        await using (var command = new NpgsqlCommand(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
            "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1", connection))
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) tables.Add(reader.GetString(0));
        foreach (var table in tables)
        {
            await using var content = new NpgsqlCommand($"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM {table} t", connection);
            lines.Add($"{table}={await content.ExecuteScalarAsync()}");
        }
        foreach (var sql in new[]
                 {
                     "SELECT string_agg(slot_name || ':' || coalesce(confirmed_flush_lsn::text, ''), ',' ORDER BY slot_name) FROM pg_replication_slots WHERE database = current_database()",
                     "SELECT string_agg(pubname || ':' || (SELECT string_agg(tablename, '+' ORDER BY tablename) FROM pg_publication_tables t WHERE t.pubname = p.pubname), ',' ORDER BY pubname) FROM pg_publication p",
                     "SELECT string_agg(roname || ':' || coalesce(pg_replication_origin_progress(roname, false)::text, ''), ',' ORDER BY roname) FROM pg_replication_origin",
                 })
        {
            await using var command = new NpgsqlCommand(sql, connection);
            lines.Add($"{sql[..20]}={await command.ExecuteScalarAsync()}");
        }
        return string.Join("\n", lines);
    }
}
