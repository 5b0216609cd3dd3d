using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Npgsql;

namespace Sync.Engine.Tests.Infrastructure;

/// <summary>One source and one destination cluster for the whole test run; a fresh database pair per test.</summary>
public sealed class PostgresFixture : IDisposable
{
    public PostgresFixture()
    {
        Source = PostgresCluster.Start("src");
        try { Destination = PostgresCluster.Start("dst"); }
        catch
        {
            Source.Dispose();
            throw;
        }
    }

    public PostgresCluster Source { get; }
    public PostgresCluster Destination { get; }

    /// <summary>Creates a database with the same name on both clusters, named after the calling test.</summary>
    public async Task<DatabasePair> CreateDatabasesAsync([CallerMemberName] string test = "")
    {
        var name = DatabaseName(test);
        await ExecuteAsync(Source, "postgres", $"CREATE DATABASE \"{name}\"");
        await ExecuteAsync(Destination, "postgres", $"CREATE DATABASE \"{name}\"");
        return new DatabasePair(this, name);
    }

    public static string DatabaseName(string test)
    {
        var clean = new string(test.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray());
        if (clean.Length > 40) clean = clean[..40];
        return $"t_{clean}_{Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant()}";
    }

    public static async Task ExecuteAsync(PostgresCluster cluster, string database, string sql)
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public static async Task<T> ScalarAsync<T>(PostgresCluster cluster, string database, string sql)
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return (T)Convert.ChangeType(value!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>ALTER SYSTEM SET and a reload, returning once a new session sees the value.</summary>
    public static async Task SetSystemAsync(PostgresCluster cluster, string setting, string value)
    {
        await ExecuteAsync(cluster, "postgres", $"ALTER SYSTEM SET {setting} = '{value}'; SELECT pg_reload_conf()");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (await ScalarAsync<string>(cluster, "postgres", $"SELECT current_setting('{setting}')") != value)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{setting} did not become {value} after a reload.");
            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        Destination.Dispose();
        Source.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "postgres";
}

/// <summary>A test's source and destination databases; dropped (with their connections) on dispose.</summary>
public sealed class DatabasePair(PostgresFixture fixture, string name) : IAsyncDisposable
{
    public string Name { get; } = name;
    public PostgresCluster SourceCluster => fixture.Source;
    public PostgresCluster DestinationCluster => fixture.Destination;

    public string SourceConnectionString => fixture.Source.ConnectionString(Name);
    public string DestinationConnectionString => fixture.Destination.ConnectionString(Name);

    public Task OnSourceAsync(string sql) => PostgresFixture.ExecuteAsync(fixture.Source, Name, sql);
    public Task OnDestinationAsync(string sql) => PostgresFixture.ExecuteAsync(fixture.Destination, Name, sql);

    public Task<T> SourceScalarAsync<T>(string sql) => ScalarAsync<T>(fixture.Source, sql);

    /// <summary>
    /// Drops a slot "by hand" while a worker holds it: ends the walsender (waiting for it to go) and drops the slot at
    /// once, since the worker reconnects within a second. False when the worker got there first; try again.
    /// </summary>
    public bool TryDropSlotInUse(string slot)
    {
        try
        {
            OnSourceAsync($"SELECT pg_terminate_backend(active_pid, 5000) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active_pid IS NOT NULL").GetAwaiter().GetResult();
            OnSourceAsync($"SELECT pg_drop_replication_slot('{slot}')").GetAwaiter().GetResult();
            return true;
        }
        catch (Npgsql.PostgresException e) when (e.SqlState == "55006") { return false; }
    }
    public Task<T> DestinationScalarAsync<T>(string sql) => ScalarAsync<T>(fixture.Destination, sql);

    private Task<T> ScalarAsync<T>(PostgresCluster cluster, string sql) => PostgresFixture.ScalarAsync<T>(cluster, Name, sql);

    public async ValueTask DisposeAsync()
    {
        foreach (var cluster in new[] { fixture.Source, fixture.Destination })
        {
            try
            {
                // Slots of this database would keep it from being dropped.
                await PostgresFixture.ExecuteAsync(cluster, "postgres",
                    $"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '{Name}' AND NOT active");
                await PostgresFixture.ExecuteAsync(cluster, "postgres", $"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)");
            }
            catch (NpgsqlException) { }
        }
    }
}
