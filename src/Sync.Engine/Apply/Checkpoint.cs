using Npgsql;
using Sync.Engine.Connections;
using Sync.Engine.Catalog;
using Sync.Engine.Tasks;

namespace Sync.Engine.Apply;

/// <summary>
/// The authoritative stream position, on the destination, committed with the changes it covers (DESIGN.md,
/// "Checkpoints"): the task's replication origin where the role may use one (its transactions then also carry the
/// origin, which two-way sync needs), else a one-row table the task owns.
/// </summary>
public sealed class Checkpoint
{
    private readonly string _origin;
    private readonly QualifiedName _table;

    private Checkpoint(string origin, QualifiedName table, bool useOrigin, bool canTellDurable = false, SyncLsn? carried = null)
    {
        _origin = origin;
        _table = table;
        UsesOrigin = useOrigin;
        CanTellDurable = canTellDurable;
        _carried = carried;
    }

    /// <summary>
    /// The position the other store holds (the table's, for an origin checkpoint; the origin's, for a table one), where
    /// an earlier run of other grants kept it: <see cref="ReadAsync"/> takes the later of the two.
    /// </summary>
    private readonly SyncLsn? _carried;

    public bool UsesOrigin { get; }

    /// <summary>The origin can say what of its commits is on disk (<see cref="DurableCommand"/>): the role may call the function.</summary>
    public bool CanTellDurable { get; }

    /// <summary>Records nothing: for a table sync, whose progress is the hand-over position, not the task's checkpoint.</summary>
    public static Checkpoint None { get; } = new("", default, useOrigin: false) { _none = true };

    private bool _none;

    /// <summary>Prepares <paramref name="connection"/> (origin session or checkpoint table) and returns the checkpoint.</summary>
    public static async Task<Checkpoint> OpenAsync(NpgsqlConnection connection, TaskDefinition task, CancellationToken ct)
    {
        var origin = TaskNaming.OriginName(task);
        var table = new QualifiedName(TaskNaming.HelperSchema, TaskNaming.CheckpointTable(task));
        // Whether the role may read the origin's position (before 14, only a superuser may, who got the origin).
        var mayRead = false;
        try
        {
            // Before PostgreSQL 14 the origin functions are a superuser's, all or none (a failed call says so). From 14
            // they are granted one by one: a role that may set up a session but not record a position in it or read one
            // back keeps its checkpoint in the table from the start, instead of failing at its first group; one that may
            // not ask its session what is on disk keeps its commits waiting for the disk (CanTellDurable).
            var canTell = true;
            if (connection.PostgreSqlVersion.Major >= 14)
            {
                bool may, tell;
                await using (var grants = new NpgsqlCommand(GrantsQuery, connection))
                await using (var reader = await grants.ExecuteReaderAsync(ct).ConfigureAwait(false))
                {
                    await reader.ReadAsync(ct).ConfigureAwait(false);
                    (may, tell, mayRead) = (reader.GetBoolean(0), reader.GetBoolean(1), reader.GetBoolean(2));
                }
                if (!may) return await TableAsync(connection, origin, table, ct, mayRead ? await OriginPositionAsync(connection, origin, ct).ConfigureAwait(false) : null).ConfigureAwait(false);
                canTell = tell;
            }
            await connection.ExecuteAsync("SELECT pg_replication_origin_create($1) WHERE pg_replication_origin_oid($1) IS NULL", ct, origin).ConfigureAwait(false);
            await connection.ExecuteAsync("SELECT pg_replication_origin_session_setup($1)", ct, origin).ConfigureAwait(false);
            return new Checkpoint(origin, table, useOrigin: true, canTell, await TablePositionAsync(connection, table, ct).ConfigureAwait(false));
        }
        catch (PostgresException e) when (e.SqlState == "42501")
        {
            return await TableAsync(connection, origin, table, ct, mayRead ? await OriginPositionAsync(connection, origin, ct).ConfigureAwait(false) : null).ConfigureAwait(false);
        }
    }

    // A position an earlier run kept in the other store (its role had other grants then) is not lost: the stream
    // resumes after the later of the two, not from the slot's position, which may be behind both. What this role may
    // not read is left out.
    private static async Task<SyncLsn?> TablePositionAsync(NpgsqlConnection connection, QualifiedName table, CancellationToken ct)
    {
        if (!await Schema.HelperSchema.HasTableAsync(connection, table.Name, ct).ConfigureAwait(false)) return null;
        try { return Parse(await connection.ScalarAsync<string?>($"SELECT end_lsn::text FROM {table.Sql}", ct).ConfigureAwait(false)); }
        catch (PostgresException e) when (e.SqlState == "42501") { return null; }
    }

    private static async Task<SyncLsn?> OriginPositionAsync(NpgsqlConnection connection, string origin, CancellationToken ct)
    {
        try { return Parse(await connection.ScalarAsync<string?>("SELECT pg_replication_origin_progress($1, true)::text", ct, origin).ConfigureAwait(false)); }
        // No such origin (42704), or the role may not read it.
        catch (PostgresException e) when (e.SqlState is "42501" or "42704") { return null; }
    }

    private static SyncLsn? Parse(string? text) => text is not null && SyncLsn.TryParse(text, out var lsn) && lsn.IsValid ? lsn : null;

    /// <summary>
    /// Whether the role may keep the checkpoint in a replication origin (as <see cref="OpenAsync"/> decides): before
    /// PostgreSQL 14 only a superuser may, from 14 a role granted every origin function the checkpoint calls.
    /// </summary>
    public static async Task<bool> RoleMayUseOriginsAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        if (connection.PostgreSqlVersion.Major < 14)
            return await connection.ScalarAsync<bool>("SELECT rolsuper FROM pg_roles WHERE rolname = current_user", ct).ConfigureAwait(false);
        await using var grants = new NpgsqlCommand(GrantsQuery, connection);
        await using var reader = await grants.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await reader.ReadAsync(ct).ConfigureAwait(false);
        return reader.GetBoolean(0);
    }

    /// <summary>Whether the role may use every origin function the checkpoint calls, whether it may ask its session's progress, and whether it may read an origin's.</summary>
    /// <remarks>By signature, through to_regprocedure: a function a later release no longer has under it counts as not granted.</remarks>
    private const string GrantsQuery = """
        SELECT coalesce(has_function_privilege(to_regprocedure('pg_catalog.pg_replication_origin_oid(text)'), 'EXECUTE')
           AND has_function_privilege(to_regprocedure('pg_catalog.pg_replication_origin_create(text)'), 'EXECUTE')
           AND has_function_privilege(to_regprocedure('pg_catalog.pg_replication_origin_session_setup(text)'), 'EXECUTE')
           AND has_function_privilege(to_regprocedure('pg_catalog.pg_replication_origin_xact_setup(pg_lsn, timestamp with time zone)'), 'EXECUTE')
           AND has_function_privilege(to_regprocedure('pg_catalog.pg_replication_origin_progress(text, boolean)'), 'EXECUTE'), false),
               coalesce(has_function_privilege(to_regprocedure('pg_catalog.pg_replication_origin_session_progress(boolean)'), 'EXECUTE'), false),
               coalesce(has_function_privilege(to_regprocedure('pg_catalog.pg_replication_origin_progress(text, boolean)'), 'EXECUTE'), false)
        """;

    private static async Task<Checkpoint> TableAsync(NpgsqlConnection connection, string origin, QualifiedName table, CancellationToken ct, SyncLsn? carried)
    {
        await Schema.HelperSchema.EnsureAsync(connection, ct).ConfigureAwait(false);
        await connection.ExecuteAsync(
            $"CREATE TABLE IF NOT EXISTS {table.Sql} (id int PRIMARY KEY DEFAULT 1 CHECK (id = 1), end_lsn pg_lsn NOT NULL, commit_time timestamptz, updated_at timestamptz NOT NULL DEFAULT now())",
            ct).ConfigureAwait(false);
        return new Checkpoint(origin, table, useOrigin: false, carried: carried);
    }

    /// <summary>The end of the last source transaction applied and committed on the destination, if any.</summary>
    public async Task<SyncLsn?> ReadAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var sql = UsesOrigin
            ? "SELECT pg_replication_origin_progress($1, true)::text"
            : $"SELECT end_lsn::text FROM {_table.Sql}";
        await using var command = new NpgsqlCommand(sql, connection);
        if (UsesOrigin) command.Parameters.AddWithValue(_origin);
        var value = Parse(await command.ExecuteScalarAsync(ct).ConfigureAwait(false) as string);
        return value is { } own && _carried is { } other ? (own > other ? own : other) : value ?? _carried;
    }

    /// <summary>
    /// Where the origin's commits are on disk, for a session that commits without waiting for the disk: the server writes
    /// its log out up to the origin's last commit and returns that commit's source position. Null where it cannot say
    /// (<see cref="CanTellDurable"/>; the commits then wait for the disk).
    /// </summary>
    public NpgsqlBatchCommand? DurableCommand() => CanTellDurable ? new NpgsqlBatchCommand("SELECT pg_replication_origin_session_progress(true)::text") : null;

    /// <summary>
    /// The statement that records <paramref name="endLsn"/> inside the open transaction, so it commits with the changes; null
    /// when nothing is recorded. It goes out with the group's last statements, in the same round trip.
    /// </summary>
    public NpgsqlBatchCommand? RecordCommand(SyncLsn endLsn, DateTimeOffset commitTime)
    {
        if (_none) return null;
        var command = new NpgsqlBatchCommand(UsesOrigin
            // The transaction id makes the group's commit a commit record even when it changed nothing (a heartbeat's
            // group): only such a record moves the origin, and what is on disk is read from it (DurableCommand).
            ? "SELECT pg_replication_origin_xact_setup($1::pg_lsn, $2), txid_current()"
            : $"INSERT INTO {_table.Sql} (id, end_lsn, commit_time, updated_at) VALUES (1, $1::pg_lsn, $2, now()) " +
              "ON CONFLICT (id) DO UPDATE SET end_lsn = EXCLUDED.end_lsn, commit_time = EXCLUDED.commit_time, updated_at = now()");
        command.Parameters.Add(new NpgsqlParameter { Value = endLsn.ToString() });
        command.Parameters.Add(new NpgsqlParameter { Value = commitTime });
        return command;
    }
}
