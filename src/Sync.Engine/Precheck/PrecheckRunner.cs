using System.Globalization;
using Npgsql;
using Npgsql.Replication;
using Sync.Engine.Catalog;
using Sync.Engine.Connections;
using Sync.Engine.Diagnostics;
using Sync.Engine.Schema;
using Sync.Engine.Tasks;

namespace Sync.Engine.Precheck;

/// <summary>
/// Checks both databases before a task starts, each check independent, each with the server's own words and the SQL
/// or setting that fixes it. Checks that need a connection are skipped when that connection fails (the connectivity
/// check already fails the report).
/// </summary>
public sealed class PrecheckRunner(ConnectionFactory connections, TimeSpan? longTransactionThreshold = null)
{
    /// <summary>Transactions older than this block slot creation long enough to matter.</summary>
    public TimeSpan LongTransactionThreshold { get; } = longTransactionThreshold ?? TimeSpan.FromMinutes(5);

    public Task<PrecheckReport> RunAsync(TaskDefinition task, CancellationToken ct) => RunAsync(task, new HashSet<string>(), ct);

    /// <summary>
    /// Runs every check. <paramref name="ownTables"/> are destination tables the task created itself (a task reset
    /// with -ClearDestination, or one that stopped before its copy): they are not someone else's existing tables.
    /// </summary>
    public async Task<PrecheckReport> RunAsync(TaskDefinition task, IReadOnlySet<string> ownTables, CancellationToken ct)
    {
        var checks = new List<PrecheckResult>();
        var incremental = task.Mode != SyncTaskMode.Full;
        var source = await TryConnectAsync(task, ServerSide.Source, checks, ct).ConfigureAwait(false);
        var destination = await TryConnectAsync(task, ServerSide.Destination, checks, ct).ConfigureAwait(false);
        try
        {
            TaskScope? scope = null;
            if (source is not null)
            {
                // The current WAL rate is measured over the checks that come before the one that needs it.
                var walMark = incremental ? await WalMark.TakeAsync(source, ct).ConfigureAwait(false) : null;
                scope = ScopeResolver.Resolve(task, await CatalogReader.ReadAsync(source, includeFunctions: false, ct).ConfigureAwait(false));
                checks.Add(scope.DataTables.Any() || scope.Tables.Count > 0
                    ? PrecheckResult.Pass(PrecheckIds.Selection, "Selected objects", $"{scope.DataTables.Count()} tables and {scope.Tables.Count(t => t.Source.IsView)} views are selected.")
                    : new PrecheckResult(PrecheckIds.Selection, "Selected objects", PrecheckOutcome.Failed, false,
                        "The selection matches no table on the source.", "Check -Schema/-Table patterns (psql rules: unquoted letters fold to lower case)."));
                await CheckSourcePrivilegesAsync(source, scope, checks, ct).ConfigureAwait(false);
                checks.Add(await CheckLongTransactionsAsync(source, incremental, ct).ConfigureAwait(false));
                checks.Add(CheckUnsupportedObjects(scope));
                if (incremental)
                {
                    await CheckReplicationSettingsAsync(task, source, walMark, checks, ct).ConfigureAwait(false);
                    CheckReplicaIdentity(scope, checks);
                }
                await CheckRowFiltersAsync(task, source, scope, incremental, checks, ct).ConfigureAwait(false);
            }
            if (source is not null && destination is not null)
                await CheckCompatibilityAsync(source, destination, checks, ct).ConfigureAwait(false);
            if (destination is not null && scope is not null)
            {
                await CheckDestinationAsync(task, destination, scope, ownTables, checks, ct).ConfigureAwait(false);
            }
            if (destination is not null)
                checks.Add(await CheckDestinationPublicationsAsync(task, destination, ct).ConfigureAwait(false));
            if (destination is not null && incremental)
                checks.Add(await CheckReplicationOriginsAsync(task, destination, ct).ConfigureAwait(false));
        }
        finally
        {
            if (source is not null) await source.DisposeAsync().ConfigureAwait(false);
            if (destination is not null) await destination.DisposeAsync().ConfigureAwait(false);
        }
        return new PrecheckReport(task.Name, DateTimeOffset.UtcNow, checks);
    }

    /// <summary>
    /// The destination keeps one replication origin state for each task whose checkpoint is an origin, and has
    /// max_replication_slots of them (max_active_replication_origins from PostgreSQL 18), shared with its own
    /// subscriptions and every other task that streams into it and was not removed. With none free, the stream's session
    /// setup fails with "could not find free replication state slot" and retries until the window ends; this says so
    /// before the start.
    /// </summary>
    private static async Task<PrecheckResult> CheckReplicationOriginsAsync(TaskDefinition task, NpgsqlConnection destination, CancellationToken ct)
    {
        const string Name = "Replication origins";
        var user = await destination.ScalarAsync<string>("SELECT current_user", ct).ConfigureAwait(false);
        if (!await Apply.Checkpoint.RoleMayUseOriginsAsync(destination, ct).ConfigureAwait(false))
            return PrecheckResult.Pass(PrecheckIds.ReplicationOrigins, Name,
                $"{user} may not use replication origins on the destination: the task keeps its checkpoint in a table and needs no origin state.");
        var origin = TaskNaming.OriginName(task);
        var setting = destination.PostgreSqlVersion.Major >= 18 ? "max_active_replication_origins" : "max_replication_slots";
        var limit = await destination.ScalarAsync<int>($"SELECT current_setting('{setting}')::int", ct).ConfigureAwait(false);
        const string Subscriptions = " Origins named pg_<number> belong to the destination's subscriptions: those go with DROP SUBSCRIPTION, not by hand.";
        var raise = $"ALTER SYSTEM SET {setting} = {limit + 4}; -- on the destination, then restart it.";
        if (limit == 0)
            return new PrecheckResult(PrecheckIds.ReplicationOrigins, Name, PrecheckOutcome.Failed, false,
                $"The destination has {setting} = 0: no replication origin can record a position there, so the task's stream could not record its checkpoint.", raise);

        // Only a superuser reads the states by default (the view and the function behind it, which is checked for the
        // caller); every role reads the origins, of which at most that many hold one.
        if (await destination.ScalarAsync<bool>(
                "SELECT has_table_privilege('pg_catalog.pg_replication_origin_status', 'SELECT') AND has_function_privilege('pg_catalog.pg_show_replication_origin_status()', 'EXECUTE')",
                ct).ConfigureAwait(false))
        {
            try
            {
                await using var command = new NpgsqlCommand("""
                    SELECT count(*)::int, coalesce(bool_or(external_id = $1), false),
                           coalesce(string_agg(external_id, ', ' ORDER BY external_id) FILTER (WHERE external_id <> $1), '')
                    FROM pg_catalog.pg_replication_origin_status
                    """, destination) { Parameters = { new() { Value = origin } } };
                int used;
                bool own;
                string others;
                await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
                {
                    await reader.ReadAsync(ct).ConfigureAwait(false);
                    (used, own, others) = (reader.GetInt32(0), reader.GetBoolean(1), reader.GetString(2));
                }
                if (own) return PrecheckResult.Pass(PrecheckIds.ReplicationOrigins, Name, $"The task's replication origin {origin} already holds its state on the destination.");
                if (used < limit)
                    return PrecheckResult.Pass(PrecheckIds.ReplicationOrigins, Name, $"{limit - used} of {setting} = {limit} replication origin states are free on the destination.");
                var listed = others.Length > 300 ? others[..300] + "..." : others;
                return new PrecheckResult(PrecheckIds.ReplicationOrigins, Name, PrecheckOutcome.Failed, false,
                    $"All {setting} = {limit} replication origin states on the destination are in use ({listed}): the task could not record its checkpoint, and its stream would retry 'could not find free replication state slot' until its retry window ends.",
                    raise + " Or remove tasks that are done (Remove-SyncTask drops their origins), or drop an origin nothing uses: SELECT pg_replication_origin_drop('<name>');" + Subscriptions);
            }
            catch (PostgresException e) when (e.SqlState == "42501")
            {
                // Granted otherwise than asked here: counted as below.
            }
        }
        var origins = await destination.ScalarAsync<int>("SELECT count(*)::int FROM pg_catalog.pg_replication_origin WHERE roname <> $1", ct, origin).ConfigureAwait(false);
        var quoted = Identifier.Quote(user);
        return origins < limit
            ? PrecheckResult.Pass(PrecheckIds.ReplicationOrigins, Name, $"The destination has {origins} other replication origins and {setting} = {limit} origin states: one is free for the task.")
            : new PrecheckResult(PrecheckIds.ReplicationOrigins, Name, PrecheckOutcome.Warning, true,
                $"The destination has {origins} other replication origins and {setting} = {limit} origin states, and {user} may not read pg_replication_origin_status to see how many are taken: if none is free, the task's stream cannot record its checkpoint and retries 'could not find free replication state slot'.",
                $"GRANT SELECT ON pg_catalog.pg_replication_origin_status TO {quoted}; GRANT EXECUTE ON FUNCTION pg_catalog.pg_show_replication_origin_status() TO {quoted}; -- as a superuser, for this check. Or: " + raise);
    }

    /// <summary>
    /// max_slot_wal_keep_size against the task's connection retry window: unlimited lets a stopped or lagging task fill
    /// the source's disk; too small loses the slot (and needs a reset) during an outage the task would otherwise ride
    /// out. "Too small" is measured by the source's WAL rate (PostgreSQL 14+): the higher of its average since its WAL
    /// statistics began and its rate while the checks ran (at least a second, <see cref="WalMark"/>), so that neither a long idle history nor a quiet moment hides
    /// the load the task will stream.
    /// </summary>
    private static async Task<PrecheckResult> CheckSlotWalRetentionAsync(TaskDefinition task, NpgsqlConnection source, string keep, WalMark? walMark, CancellationToken ct)
    {
        const string name = "WAL retained by the slot";
        var minutes = task.Options.ConnectionRetryMinutes;
        if (keep is "-1")
            return new PrecheckResult(PrecheckIds.SlotWalRetention, name, PrecheckOutcome.Warning, true,
                "max_slot_wal_keep_size is unlimited: if the task stops or falls behind, its slot keeps WAL until the source's disk fills.",
                $"ALTER SYSTEM SET max_slot_wal_keep_size = '<enough WAL for {minutes} minutes of writes>'; SELECT pg_reload_conf();");
        var keepBytes = await source.ScalarAsync<long>("SELECT pg_size_bytes(current_setting('max_slot_wal_keep_size'))", ct).ConfigureAwait(false);
        if (keepBytes == 0)
            return new PrecheckResult(PrecheckIds.SlotWalRetention, name, PrecheckOutcome.Warning, true,
                "max_slot_wal_keep_size is 0: the slot keeps no WAL past what checkpoints keep anyway, so the task's slot can be invalidated " +
                "by any pause or lag, and the task then needs Reset-SyncTask.",
                $"ALTER SYSTEM SET max_slot_wal_keep_size = '<enough WAL for {minutes} minutes of writes>'; SELECT pg_reload_conf();");
        if (source.PostgreSqlVersion.Major < 14)
            return PrecheckResult.Pass(PrecheckIds.SlotWalRetention, name, $"max_slot_wal_keep_size is {keep}; check it covers {minutes} minutes of WAL (the source is too old to report its WAL rate).");
        var average = await source.ScalarAsync<double>(
            "SELECT (wal_bytes / greatest(1, extract(epoch FROM now() - coalesce(stats_reset, pg_postmaster_start_time()))))::float8 FROM pg_stat_wal", ct).ConfigureAwait(false);
        var current = walMark is null ? 0 : await walMark.RateAsync(source, ct).ConfigureAwait(false);
        var perSecond = Math.Max(average, current);
        var which = current > average ? "current" : "average";
        var needed = (long)(perSecond * minutes * 60);
        if (needed <= keepBytes)
            return PrecheckResult.Pass(PrecheckIds.SlotWalRetention, name,
                $"max_slot_wal_keep_size is {keep}: at the source's {which} WAL rate, about {Megabytes(needed)} cover the task's connection retry window of {minutes} minutes.");
        return new PrecheckResult(PrecheckIds.SlotWalRetention, name, PrecheckOutcome.Warning, true,
            $"max_slot_wal_keep_size is {keep}, but the source writes about {Megabytes((long)(perSecond * 60))} of WAL a minute ({which} rate): an outage of the task's " +
            $"connection retry window ({minutes} minutes) needs about {Megabytes(needed)}. A longer stop or lag invalidates the slot and the task needs Reset-SyncTask.",
            $"ALTER SYSTEM SET max_slot_wal_keep_size = '{Math.Max(1, needed / 1048576 + 1)}MB'; SELECT pg_reload_conf(); -- or a shorter -ConnectionRetryMinutes");
    }

    /// <summary>
    /// The source's WAL position when the checks began, to measure its current WAL rate over at least a second without
    /// a second's wait of its own: the checks before the one that needs the rate take part of it. Null on a standby
    /// (which writes no WAL itself) and on sources before 14.
    /// </summary>
    private sealed class WalMark(string lsn)
    {
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

        public static async Task<WalMark?> TakeAsync(NpgsqlConnection source, CancellationToken ct) =>
            source.PostgreSqlVersion.Major < 14 || await source.ScalarAsync<bool>("SELECT pg_is_in_recovery()", ct).ConfigureAwait(false)
                ? null
                : new WalMark(await source.ScalarAsync<string>("SELECT pg_current_wal_lsn()::text", ct).ConfigureAwait(false));

        /// <summary>WAL bytes a second since the mark, waiting until a second has passed since it.</summary>
        public async Task<double> RateAsync(NpgsqlConnection source, CancellationToken ct)
        {
            var left = TimeSpan.FromSeconds(1) - _clock.Elapsed;
            if (left > TimeSpan.Zero) await Task.Delay(left, ct).ConfigureAwait(false);
            var bytes = await source.ScalarAsync<double>("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8", ct, lsn).ConfigureAwait(false);
            return bytes / Math.Max(0.001, _clock.Elapsed.TotalSeconds);
        }
    }

    private static string Megabytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:N0} MB");

    /// <summary>
    /// SELECT on a table or sequence, looked up by name in the catalog: casting the name to regclass would fail with
    /// "permission denied for schema" where the user lacks USAGE, which the check reports on its own.
    /// </summary>
    private static async Task<bool> HasPrivilegeAsync(NpgsqlConnection source, string function, QualifiedName name, CancellationToken ct) =>
        await source.ScalarAsync<bool>(
            $"SELECT coalesce((SELECT {function}(c.oid, 'SELECT') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2), false)",
            ct, name.Schema, name.Name).ConfigureAwait(false);

    /// <summary>
    /// The publications that would publish a table of the schema $1: those of all tables, and from PostgreSQL 15 on those
    /// of that schema. Before 15, $1 is only tested for NULL, so that both forms take the same parameter.
    /// </summary>
    internal static string PublicationsOfHelpersSql(int major) =>
        "SELECT coalesce(string_agg(quote_ident(pubname), ', ' ORDER BY pubname), '') FROM pg_publication p WHERE p.puballtables OR " +
        (major >= 15
            ? "EXISTS (SELECT FROM pg_publication_namespace pn WHERE pn.pnpubid = p.oid AND pn.pnnspid = (SELECT oid FROM pg_namespace WHERE nspname = $1))"
            : "$1 IS NULL");

    /// <summary>
    /// The task keeps helper tables on the destination (copy progress; the stream's checkpoint where no replication origin
    /// may be used) in the schema <see cref="TaskNaming.HelperSchema"/>. A destination that publishes all its tables (or
    /// that schema) hands them to its own subscribers, and a subscriber's apply stops on a table it does not have.
    /// </summary>
    private static async Task<PrecheckResult> CheckDestinationPublicationsAsync(TaskDefinition task, NpgsqlConnection destination, CancellationToken ct)
    {
        const string name = "Destination publications";
        var publications = await destination.ScalarAsync<string>(PublicationsOfHelpersSql(destination.PostgreSqlVersion.Major), ct, TaskNaming.HelperSchema).ConfigureAwait(false);
        if (publications.Length == 0)
            return PrecheckResult.Pass(PrecheckIds.DestinationPublications, name, "No publication on the destination would publish the task's helper tables.");
        var helpers = new List<string>();
        if (task.Mode != SyncTaskMode.Incremental) helpers.Add($"{TaskNaming.HelperSchema}.{TaskNaming.CopyProgressTable(task)} (copy progress)");
        if (task.Mode != SyncTaskMode.Full) helpers.Add($"{TaskNaming.HelperSchema}.{TaskNaming.CheckpointTable(task)} (the stream's checkpoint, unless a replication origin is used)");
        return new PrecheckResult(PrecheckIds.DestinationPublications, name, PrecheckOutcome.Warning, true,
            $"The destination's publication(s) {publications} publish all its tables or the schema {TaskNaming.HelperSchema}: the task's helper tables " +
            $"{string.Join(" and ", helpers)} would be sent to their subscribers, and a subscriber stops applying at a table it does not have.",
            $"Before starting the task, create the schema {TaskNaming.HelperSchema} and tables of those names on every subscriber of those publications " +
            "(their changes are skipped there until the subscription is refreshed), or publish a list of tables instead (ALTER PUBLICATION ... SET TABLE ...). " +
            "The helper tables are removed with the task.");
    }

    private async Task<NpgsqlConnection?> TryConnectAsync(TaskDefinition task, ServerSide side, List<PrecheckResult> checks, CancellationToken ct)
    {
        var endpoint = side == ServerSide.Source ? task.Source : task.Destination;
        var id = side == ServerSide.Source ? PrecheckIds.SourceConnectivity : PrecheckIds.DestinationConnectivity;
        var name = side == ServerSide.Source ? "Source connection" : "Destination connection";
        var builder = connections.Build(endpoint, $"sync:{task.Name}:precheck");
        builder.Pooling = false;
        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(ct).ConfigureAwait(false);
            var ssl = await connection.ScalarAsync<bool>("SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)", ct).ConfigureAwait(false);
            checks.Add(PrecheckResult.Pass(id, name, $"Logged in to {endpoint} (PostgreSQL {connection.PostgreSqlVersion}, SSL {(ssl ? "on" : "off")})."));
            return connection;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException or System.Security.Authentication.AuthenticationException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            var error = ConnectionFactory.ConnectionError(side, endpoint, e);
            checks.Add(new PrecheckResult(id, name, PrecheckOutcome.Failed, false, error.Message,
                error.Category == SyncErrorCategory.AuthenticationError
                    ? "Check the user name and password (Set-SyncTask -SourceCredential/-DestinationCredential) and the server's pg_hba.conf."
                    : "Check host, port, database, SSL mode and firewalls; the server's own message is above."));
            return null;
        }
    }

    private static async Task CheckCompatibilityAsync(NpgsqlConnection source, NpgsqlConnection destination, List<PrecheckResult> checks, CancellationToken ct)
    {
        var src = await SettingsAsync(source, ct).ConfigureAwait(false);
        var dst = await SettingsAsync(destination, ct).ConfigureAwait(false);
        var srcMajor = int.Parse(src["server_version_num"], CultureInfo.InvariantCulture) / 10000;
        var dstMajor = int.Parse(dst["server_version_num"], CultureInfo.InvariantCulture) / 10000;
        checks.Add(dstMajor >= srcMajor
            ? PrecheckResult.Pass(PrecheckIds.VersionCompatibility, "Destination version", $"Destination PostgreSQL {dstMajor} is not older than source PostgreSQL {srcMajor}.")
            : new PrecheckResult(PrecheckIds.VersionCompatibility, "Destination version", PrecheckOutcome.Failed, false,
                $"Destination PostgreSQL {dstMajor} is older than source PostgreSQL {srcMajor}.", "Use a destination of the source's major version or later."));
        var encodingOk = src["server_encoding"] == dst["server_encoding"] || dst["server_encoding"] == "UTF8";
        checks.Add(encodingOk
            ? PrecheckResult.Pass(PrecheckIds.EncodingCompatibility, "Encoding", $"Source {src["server_encoding"]}, destination {dst["server_encoding"]}.")
            : new PrecheckResult(PrecheckIds.EncodingCompatibility, "Encoding", PrecheckOutcome.Failed, false,
                $"Source encoding {src["server_encoding"]} cannot be stored in destination encoding {dst["server_encoding"]}.",
                $"Create the destination database with ENCODING '{src["server_encoding"]}' or 'UTF8'."));
        var blockOk = int.Parse(dst["block_size"], CultureInfo.InvariantCulture) >= int.Parse(src["block_size"], CultureInfo.InvariantCulture);
        checks.Add(blockOk
            ? PrecheckResult.Pass(PrecheckIds.BlockSize, "Block size", $"Source {src["block_size"]}, destination {dst["block_size"]}.")
            : new PrecheckResult(PrecheckIds.BlockSize, "Block size", PrecheckOutcome.Failed, false,
                $"Destination block_size {dst["block_size"]} is smaller than the source's {src["block_size"]}; rows that fit the source may not fit.",
                "Use a destination server built with the source's block size."));
        checks.Add(src["lc_monetary"] == dst["lc_monetary"]
            ? PrecheckResult.Pass(PrecheckIds.LcMonetary, "lc_monetary", $"Both use '{src["lc_monetary"]}'.")
            : new PrecheckResult(PrecheckIds.LcMonetary, "lc_monetary", PrecheckOutcome.Failed, true,
                $"Source lc_monetary is '{src["lc_monetary"]}', destination '{dst["lc_monetary"]}': money values would change meaning.",
                $"ALTER DATABASE <destination> SET lc_monetary = '{src["lc_monetary"]}';"));
    }

    private static async Task CheckSourcePrivilegesAsync(NpgsqlConnection source, TaskScope scope, List<PrecheckResult> checks, CancellationToken ct)
    {
        var missing = new List<string>();
        var remedies = new List<string>();
        var user = await source.ScalarAsync<string>("SELECT current_user", ct).ConfigureAwait(false);
        if (!await source.ScalarAsync<bool>("SELECT has_database_privilege(current_database(), 'CONNECT')", ct).ConfigureAwait(false))
        {
            missing.Add("CONNECT on the database");
            remedies.Add($"GRANT CONNECT ON DATABASE {Identifier.Quote(source.Database)} TO {Identifier.Quote(user)};");
        }
        foreach (var schema in scope.Tables.Select(t => t.Name.Schema).Concat(scope.Sequences.Select(s => s.Name.Schema)).Distinct())
            if (!await source.ScalarAsync<bool>("SELECT has_schema_privilege($1, 'USAGE')", ct, schema).ConfigureAwait(false))
            {
                missing.Add($"USAGE on schema {Identifier.Display(schema)}");
                remedies.Add($"GRANT USAGE ON SCHEMA {Identifier.Quote(schema)} TO {Identifier.Quote(user)};");
            }
        foreach (var table in scope.Tables)
            if (!await HasPrivilegeAsync(source, "has_table_privilege", table.Name, ct).ConfigureAwait(false))
            {
                missing.Add($"SELECT on {table.Name}");
                remedies.Add($"GRANT SELECT ON {table.Name.Sql} TO {Identifier.Quote(user)};");
            }
        foreach (var sequence in scope.Sequences)
            if (!await HasPrivilegeAsync(source, "has_sequence_privilege", sequence.Name, ct).ConfigureAwait(false))
            {
                missing.Add($"SELECT on sequence {sequence.Name}");
                remedies.Add($"GRANT SELECT ON SEQUENCE {sequence.Name.Sql} TO {Identifier.Quote(user)};");
            }
        checks.Add(missing.Count == 0
            ? PrecheckResult.Pass(PrecheckIds.SourcePrivileges, "Source privileges", $"{user} can read every selected table and sequence.")
            : new PrecheckResult(PrecheckIds.SourcePrivileges, "Source privileges", PrecheckOutcome.Failed, false,
                $"{user} lacks {missing.Count} privileges on the source: {string.Join(", ", missing.Take(10))}{(missing.Count > 10 ? ", ..." : "")}.",
                string.Join(Environment.NewLine, remedies.Take(50))));
    }

    private async Task CheckReplicationSettingsAsync(TaskDefinition task, NpgsqlConnection source, WalMark? walMark, List<PrecheckResult> checks, CancellationToken ct)
    {
        var settings = await SettingsAsync(source, ct).ConfigureAwait(false);
        checks.Add(settings["wal_level"] == "logical"
            ? PrecheckResult.Pass(PrecheckIds.WalLevel, "wal_level", "wal_level is logical.")
            : new PrecheckResult(PrecheckIds.WalLevel, "wal_level", PrecheckOutcome.Failed, false,
                $"wal_level is '{settings["wal_level"]}' on the source {task.Source}; logical decoding needs 'logical'.",
                "ALTER SYSTEM SET wal_level = logical; -- then restart the source server"));

        var canReplicate = await source.ScalarAsync<bool>(
            "SELECT r.rolsuper OR r.rolreplication OR EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = 'rds_replication' AND pg_has_role(current_user, g.oid, 'MEMBER')) FROM pg_roles r WHERE r.rolname = current_user",
            ct).ConfigureAwait(false);
        checks.Add(canReplicate
            ? PrecheckResult.Pass(PrecheckIds.ReplicationPrivilege, "Replication privilege", $"{task.Source.Username} may replicate.")
            : new PrecheckResult(PrecheckIds.ReplicationPrivilege, "Replication privilege", PrecheckOutcome.Failed, false,
                $"{task.Source.Username} has neither REPLICATION nor membership of rds_replication.",
                $"ALTER ROLE {Identifier.Quote(task.Source.Username)} REPLICATION;"));

        var (slotsFree, maxSlots) = await PairAsync(source,
            "SELECT current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots)::int, current_setting('max_replication_slots')::int", ct).ConfigureAwait(false);
        var slotExists = await source.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", ct, TaskNaming.SlotName(task)).ConfigureAwait(false);
        checks.Add(slotsFree >= 2 || slotExists
            ? PrecheckResult.Pass(PrecheckIds.ReplicationSlots, "Replication slots", $"{slotsFree} of {maxSlots} replication slots are free.")
            : new PrecheckResult(PrecheckIds.ReplicationSlots, "Replication slots", PrecheckOutcome.Failed, false,
                $"{slotsFree} of max_replication_slots = {maxSlots} are free; the task needs one for itself and one more while tables are re-copied.",
                $"ALTER SYSTEM SET max_replication_slots = {maxSlots + 4}; -- then restart the source server"));

        var (sendersFree, maxSenders) = await PairAsync(source,
            "SELECT current_setting('max_wal_senders')::int - (SELECT count(*) FROM pg_stat_replication)::int, current_setting('max_wal_senders')::int", ct).ConfigureAwait(false);
        checks.Add(sendersFree >= 2 && maxSenders >= maxSlots
            ? PrecheckResult.Pass(PrecheckIds.WalSenders, "WAL senders", $"{sendersFree} of {maxSenders} WAL senders are free.")
            : new PrecheckResult(PrecheckIds.WalSenders, "WAL senders", sendersFree >= 2 ? PrecheckOutcome.Warning : PrecheckOutcome.Failed, sendersFree >= 2,
                $"max_wal_senders = {maxSenders} with {sendersFree} free; it should be at least max_replication_slots ({maxSlots}) and leave two free.",
                $"ALTER SYSTEM SET max_wal_senders = {Math.Max(maxSlots, maxSenders + 2)}; -- then restart the source server"));

        var keep = source.PostgreSqlVersion.Major >= 13
            ? await source.ScalarAsync<string>("SELECT current_setting('max_slot_wal_keep_size')", ct).ConfigureAwait(false)
            : "-1";
        checks.Add(await CheckSlotWalRetentionAsync(task, source, keep, walMark, ct).ConfigureAwait(false));

        var replication = connections.Build(task.Source, $"sync:{task.Name}:precheck", replication: true).ConnectionString;
        try
        {
            await using var connection = new LogicalReplicationConnection(replication);
            await connection.Open(ct).ConfigureAwait(false);
            await connection.IdentifySystem(ct).ConfigureAwait(false);
            checks.Add(PrecheckResult.Pass(PrecheckIds.ReplicationConnection, "Replication connection", "A replication connection to the source was accepted."));
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException)
        {
            checks.Add(new PrecheckResult(PrecheckIds.ReplicationConnection, "Replication connection", PrecheckOutcome.Failed, false,
                $"The source refused a replication connection: {ErrorClassifier.Classify(e).Message}",
                $"The role needs REPLICATION (ALTER ROLE {Identifier.Quote(task.Source.Username)} REPLICATION;) and a free WAL sender. Logical replication connections match " +
                $"pg_hba.conf entries for the database '{task.Source.Database}' (not the 'replication' keyword, which is for physical replication): allow {task.Source.Username} there from this host, then SELECT pg_reload_conf();"));
        }
    }

    private static void CheckReplicaIdentity(TaskScope scope, List<PrecheckResult> checks)
    {
        var tables = scope.DataTables.ToList();
        var withoutKey = tables.Where(t => t.Source.PrimaryKey is null && t.Source.ReplicaIdentity is not ('f' or 'i')).ToList();
        checks.Add(withoutKey.Count == 0
            ? PrecheckResult.Pass(PrecheckIds.ReplicaIdentity, "Primary keys", "Every selected table has a primary key or a replica identity.")
            : new PrecheckResult(PrecheckIds.ReplicaIdentity, "Primary keys", PrecheckOutcome.Warning, true,
                $"{withoutKey.Count} tables have no primary key and no replica identity; once published, UPDATE and DELETE on them fail on the source: " +
                string.Join(", ", withoutKey.Take(10).Select(t => t.Name.ToString())),
                string.Join(Environment.NewLine, withoutKey.Select(t => $"ALTER TABLE {t.Name.Sql} REPLICA IDENTITY FULL;"))));
        var toastKeys = tables.Where(t => t.Source.PrimaryKey is { } pk && t.Source.ReplicaIdentity == 'd' &&
            pk.Columns.Any(c => t.Source.Columns.FirstOrDefault(x => x.Name == c)?.Toastable == true)).ToList();
        checks.Add(toastKeys.Count == 0
            ? PrecheckResult.Pass(PrecheckIds.ToastablePrimaryKey, "Toastable primary keys", "No primary key has a column that can be stored out of line.")
            : new PrecheckResult(PrecheckIds.ToastablePrimaryKey, "Toastable primary keys", PrecheckOutcome.Warning, true,
                $"{toastKeys.Count} tables have primary keys on columns whose values can be stored out of line (TOAST); such keys are sent reliably only with REPLICA IDENTITY FULL: " +
                string.Join(", ", toastKeys.Take(10).Select(t => t.Name.ToString())),
                string.Join(Environment.NewLine, toastKeys.Select(t => $"ALTER TABLE {t.Name.Sql} REPLICA IDENTITY FULL;"))));
    }

    private static async Task CheckRowFiltersAsync(TaskDefinition task, NpgsqlConnection source, TaskScope scope, bool incremental, List<PrecheckResult> checks, CancellationToken ct)
    {
        var filtered = scope.Tables.Where(t => t.RowFilter is not null).ToList();
        if (task.RowFilters.Count == 0) return;
        var problems = new List<string>();
        foreach (var table in filtered)
        {
            try
            {
                await using var command = new NpgsqlCommand($"EXPLAIN SELECT 1 FROM ONLY {table.Name.Sql} WHERE ({table.RowFilter})", source);
                await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            catch (PostgresException e)
            {
                problems.Add($"the filter of {table.Name} is not valid there: {e.MessageText}");
            }
        }
        var unmatched = task.RowFilters.Keys.Where(k => scope.Find(QualifiedName.Parse(k)) is null).ToList();
        problems.AddRange(unmatched.Select(k => $"a filter is given for {k}, which is not among the selected tables"));
        if (incremental && source.PostgreSqlVersion.Major < 15)
            problems.Add($"the source runs PostgreSQL {source.PostgreSqlVersion.Major}; filtering changes while streaming needs publication row filters (PostgreSQL 15 or later)");
        checks.Add(problems.Count == 0
            ? PrecheckResult.Pass(PrecheckIds.RowFilters, "Row filters", $"{filtered.Count} row filters are valid on the source.")
            : new PrecheckResult(PrecheckIds.RowFilters, "Row filters", PrecheckOutcome.Failed, false, "Row filters: " + string.Join("; ", problems) + ".",
                "Fix the expressions with Set-SyncTask -RowFilter, or use a Full task on sources older than PostgreSQL 15."));
    }

    private async Task<PrecheckResult> CheckLongTransactionsAsync(NpgsqlConnection source, bool incremental, CancellationToken ct)
    {
        var old = new List<string>();
        await using (var command = new NpgsqlCommand(
            "SELECT pid, usename, extract(epoch FROM now() - xact_start)::bigint FROM pg_stat_activity WHERE xact_start < now() - $1 AND pid <> pg_backend_pid() AND datname IS NOT NULL ORDER BY xact_start", source))
        {
            command.Parameters.AddWithValue(LongTransactionThreshold);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
                old.Add($"pid {reader.GetInt32(0)} ({(reader.IsDBNull(1) ? "?" : reader.GetString(1))}, {reader.GetInt64(2)} s)");
        }
        return old.Count == 0
            ? PrecheckResult.Pass(PrecheckIds.LongTransactions, "Long transactions", $"No transaction on the source is older than {LongTransactionThreshold.TotalMinutes:0} minutes.")
            : new PrecheckResult(PrecheckIds.LongTransactions, "Long transactions", incremental ? PrecheckOutcome.Failed : PrecheckOutcome.Warning, true,
                $"{old.Count} transactions on the source are older than {LongTransactionThreshold.TotalMinutes:0} minutes ({string.Join(", ", old.Take(5))}); creating the task's slot waits for them to end.",
                "Let them finish, or end them: SELECT pg_terminate_backend(<pid>);");
    }

    private static PrecheckResult CheckUnsupportedObjects(TaskScope scope)
    {
        var forbidden = scope.Tables.Where(t => t.Name.Schema.IndexOfAny(['"', '.', '\'', '<', '>']) >= 0 || t.Name.Name.IndexOfAny(['"', '.', '\'', '<', '>']) >= 0)
            .Select(t => $"{t.Name} (its name has one of \" . ' < >; Sync copies it, but the managed services cannot)").ToList();
        var listed = scope.Excluded.Select(e => $"{e.Object} ({e.Reason})").Concat(forbidden).ToList();
        return listed.Count == 0
            ? PrecheckResult.Pass(PrecheckIds.UnsupportedObjects, "Unsupported objects", "Every selected object can be synchronized.")
            : new PrecheckResult(PrecheckIds.UnsupportedObjects, "Unsupported objects", PrecheckOutcome.Warning, true,
                $"{listed.Count} objects need attention: {string.Join("; ", listed.Take(10))}{(listed.Count > 10 ? "; ..." : "")}.",
                "Make unlogged tables logged (ALTER TABLE ... SET LOGGED) to stream them, or exclude them with -ExcludeTable.");
    }

    private static async Task CheckDestinationAsync(TaskDefinition task, NpgsqlConnection destination, TaskScope scope, IReadOnlySet<string> ownTables, List<PrecheckResult> checks, CancellationToken ct)
    {
        var user = await destination.ScalarAsync<string>("SELECT current_user", ct).ConfigureAwait(false);
        var missing = new List<string>();
        var remedies = new List<string>();
        var targetSchemas = scope.Tables.Select(t => t.Destination.Schema).Append(TaskNaming.HelperSchema).Distinct().ToList();
        var existingSchemas = new HashSet<string>(StringComparer.Ordinal);
        foreach (var schema in targetSchemas)
            if (await destination.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", ct, schema).ConfigureAwait(false))
            {
                existingSchemas.Add(schema);
                if (!await destination.ScalarAsync<bool>("SELECT has_schema_privilege($1, 'CREATE') AND has_schema_privilege($1, 'USAGE')", ct, schema).ConfigureAwait(false))
                {
                    missing.Add($"USAGE and CREATE on schema {Identifier.Display(schema)}");
                    remedies.Add($"GRANT USAGE, CREATE ON SCHEMA {Identifier.Quote(schema)} TO {Identifier.Quote(user)};");
                }
            }
        if (targetSchemas.Any(s => !existingSchemas.Contains(s)) &&
            !await destination.ScalarAsync<bool>("SELECT has_database_privilege(current_database(), 'CREATE')", ct).ConfigureAwait(false))
        {
            missing.Add("CREATE on the database (to create schemas)");
            remedies.Add($"GRANT CREATE ON DATABASE {Identifier.Quote(destination.Database)} TO {Identifier.Quote(user)};");
        }
        checks.Add(missing.Count == 0
            ? PrecheckResult.Pass(PrecheckIds.DestinationPrivileges, "Destination privileges", $"{user} can create the task's schemas and tables.")
            : new PrecheckResult(PrecheckIds.DestinationPrivileges, "Destination privileges", PrecheckOutcome.Failed, false,
                $"{user} lacks on the destination: {string.Join(", ", missing)}.", string.Join(Environment.NewLine, remedies)));

        var canSetRole = true;
        await using (var transaction = await destination.BeginTransactionAsync(ct).ConfigureAwait(false))
        {
            try
            {
                await using var command = new NpgsqlCommand("SET LOCAL session_replication_role = replica", destination, transaction);
                await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            catch (PostgresException e) when (e.SqlState == "42501") { canSetRole = false; }
            await transaction.RollbackAsync(ct).ConfigureAwait(false);
        }
        var needsRole = task.Mode != SyncTaskMode.Full || scope.DatabaseLevel;
        checks.Add(canSetRole || !needsRole
            ? PrecheckResult.Pass(PrecheckIds.SessionReplicationRole, "session_replication_role", canSetRole ? $"{user} may set session_replication_role." : "Not needed by this task.")
            : new PrecheckResult(PrecheckIds.SessionReplicationRole, "session_replication_role", PrecheckOutcome.Warning, true,
                $"{user} may not set session_replication_role on the destination: triggers and foreign keys fire for applied changes.",
                $"GRANT SET ON PARAMETER session_replication_role TO {Identifier.Quote(user)}; -- PostgreSQL 15+, else use a superuser"));

        var existing = new List<string>();
        foreach (var table in scope.Tables.Where(t => !ownTables.Contains(t.Destination.ToString())))
            if (await destination.ScalarAsync<bool>("SELECT to_regclass($1) IS NOT NULL", ct, table.Destination.Sql).ConfigureAwait(false))
                existing.Add(table.Destination.ToString());
        checks.Add(existing.Count == 0
            ? PrecheckResult.Pass(PrecheckIds.ExistingObjects, "Existing destination objects", "None of the task's tables or views exists on the destination.")
            : task.Options.ExistingTables == ExistingTablePolicy.Ignore || task.Mode == SyncTaskMode.Incremental
                ? new PrecheckResult(PrecheckIds.ExistingObjects, "Existing destination objects", PrecheckOutcome.Warning, true,
                    $"{existing.Count} already exist and will be written into (conflict policy {task.Options.ConflictPolicy}): {string.Join(", ", existing.Take(10))}.", null)
                : new PrecheckResult(PrecheckIds.ExistingObjects, "Existing destination objects", PrecheckOutcome.Failed, false,
                    $"{existing.Count} already exist on the destination: {string.Join(", ", existing.Take(10))}{(existing.Count > 10 ? ", ..." : "")}.",
                    "Drop them, map the tables to other names (-TableMapping/-SchemaMapping), or use -ExistingTable Ignore to copy into them. " +
                    "If they hold this task's own rows from before a reset, Reset-SyncTask -ClearDestination empties them."));

        var needed = scope.Catalog.Extensions.Where(e => scope.DatabaseLevel || scope.Schemas.Contains(e.Schema) ||
            scope.Tables.SelectMany(t => t.Columns).Any(c => c.UserTypeSchema == e.Schema)).Select(e => e.Name).ToList();
        var unavailable = new List<string>();
        foreach (var extension in needed)
            if (!await destination.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = $1)", ct, extension).ConfigureAwait(false))
                unavailable.Add(extension);
        checks.Add(unavailable.Count == 0
            ? PrecheckResult.Pass(PrecheckIds.Extensions, "Extensions", needed.Count == 0 ? "No extension is needed." : $"Available on the destination: {string.Join(", ", needed)}.")
            : new PrecheckResult(PrecheckIds.Extensions, "Extensions", PrecheckOutcome.Failed, false,
                $"The destination server does not have these extensions installed: {string.Join(", ", unavailable)}.",
                "Install the extensions' packages on the destination server (for example postgresql-contrib)."));

        // Collations of pg_catalog (the server's locales) are not created by the task: the destination needs each one
        // a selected column uses, for the destination's encoding, or CREATE TABLE fails there.
        // Tables that exist on the destination already (written into, not created) need nothing.
        var created = scope.Tables.Where(t => !existing.Contains(t.Destination.ToString())).ToList();
        var systemCollations = created.SelectMany(t => t.Columns).Select(c => c.Collation).OfType<QualifiedName>()
            .Where(c => c.Schema == "pg_catalog").Distinct().OrderBy(c => c.Name, StringComparer.Ordinal).ToList();
        var missingCollations = new List<string>();
        foreach (var collation in systemCollations)
            if (!await destination.ScalarAsync<bool>("""
                SELECT EXISTS (SELECT 1 FROM pg_collation
                               WHERE collnamespace = 'pg_catalog'::regnamespace AND collname = $1
                                 AND collencoding IN (-1, (SELECT encoding FROM pg_database WHERE datname = current_database())))
                """, ct, collation.Name).ConfigureAwait(false))
                missingCollations.Add(collation.Sql);
        // Collations the task creates with what an older destination lacks: the builtin provider (17) and ICU rules (16).
        var used = created.SelectMany(t => t.Columns).Select(c => c.Collation).OfType<QualifiedName>().ToHashSet();
        var destinationMajor = destination.PostgreSqlVersion.Major;
        foreach (var collation in scope.Catalog.Collations.Where(c => used.Contains(c.Name)))
        {
            if (collation.Provider == 'b' && destinationMajor < 17)
                missingCollations.Add($"{collation.Name.Sql} (provider builtin needs PostgreSQL 17; the destination runs {destinationMajor})");
            else if (!string.IsNullOrEmpty(collation.IcuRules) && destinationMajor < 16)
                missingCollations.Add($"{collation.Name.Sql} (ICU rules need PostgreSQL 16; the destination runs {destinationMajor})");
        }
        checks.Add(missingCollations.Count == 0
                ? PrecheckResult.Pass(PrecheckIds.Collations, "Collations", systemCollations.Count == 0
                    ? "No column names a server collation."
                    : $"The destination has the collations the columns use: {string.Join(", ", systemCollations.Select(c => c.Sql))}.")
                : new PrecheckResult(PrecheckIds.Collations, "Collations", PrecheckOutcome.Failed, false,
                    $"The destination database lacks collations that selected columns use: {string.Join(", ", missingCollations)}.",
                    "Install the locales on the destination server and run SELECT pg_import_system_collations('pg_catalog') in the destination database, " +
                    "or create each collation there with CREATE COLLATION."));
    }

    private static async Task<Dictionary<string, string>> SettingsAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var command = new NpgsqlCommand(
            "SELECT name, setting FROM pg_settings WHERE name IN ('server_version_num','server_encoding','block_size','lc_monetary','wal_level')", connection);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false)) result[reader.GetString(0)] = reader.GetString(1);
        return result;
    }

    private static async Task<(int, int)> PairAsync(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await reader.ReadAsync(ct).ConfigureAwait(false);
        return (reader.GetInt32(0), reader.GetInt32(1));
    }
}
