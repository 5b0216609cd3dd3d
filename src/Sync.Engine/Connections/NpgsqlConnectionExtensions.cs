using System.Globalization;
using Npgsql;

namespace Sync.Engine.Connections;

/// <summary>The two one-line commands the engine runs everywhere: a statement, and a single value, with positional parameters.</summary>
public static class NpgsqlConnectionExtensions
{
    public static async Task ExecuteAsync(this NpgsqlConnection connection, string sql, CancellationToken ct, params object[] args)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var a in args) command.Parameters.AddWithValue(a);
        await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public static async Task<T> ScalarAsync<T>(this NpgsqlConnection connection, string sql, CancellationToken ct, params object[] args)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var a in args) command.Parameters.AddWithValue(a);
        var value = await command.ExecuteScalarAsync(ct).ConfigureAwait(false);
        return value is T typed ? typed : (T)Convert.ChangeType(value!, typeof(T), CultureInfo.InvariantCulture);
    }
}
