using Npgsql;
using Sync.Engine.Diagnostics;
using Sync.Engine.Security;
using Sync.Engine.Tasks;

namespace Sync.Engine.Connections;

/// <summary>
/// Builds connections to a task's endpoints with NpgsqlConnectionStringBuilder (never string concatenation)
/// and turns connection failures into errors that name the endpoint and quote the server's own text.
/// The connection string itself is never logged or put in a message: it may hold the password.
/// </summary>
public sealed class ConnectionFactory(ISecretProtector secrets)
{
    public NpgsqlConnectionStringBuilder Build(EndpointDefinition endpoint, string applicationName, bool replication = false)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = endpoint.Host,
            Port = endpoint.Port,
            Database = endpoint.Database,
            Username = endpoint.Username,
            SslMode = Enum.Parse<SslMode>(endpoint.SslMode.ToString()),
            ApplicationName = endpoint.ApplicationName ?? applicationName,
            Timeout = 15,
            CommandTimeout = 0,
            KeepAlive = 30,
            TcpKeepAlive = true,
            Enlist = false,
            // Server error details name the rows involved (never credentials): what an admin needs to resolve a conflict.
            IncludeErrorDetail = true,
            // Our own writes set their session settings on purpose; keep them across pooled reuse.
            NoResetOnClose = false,
        };
        if (endpoint.RootCertificate is not null) builder.RootCertificate = endpoint.RootCertificate;
        if (endpoint.Passfile is not null) builder.Passfile = endpoint.Passfile;
        if (endpoint.Password is not null)
            builder.Password = secrets.Unprotect(endpoint.Password, $"{endpoint}").Reveal();
        if (replication)
        {
            builder.Pooling = false;
            builder.Options = StreamTextSettings;
        }
        return builder;
    }

    /// <summary>
    /// The settings the source's walsender writes the stream's text values in, whatever the source's own configuration
    /// (a database set to DateStyle 'SQL, DMY' or IntervalStyle 'sql_standard' wrote values the destination read as
    /// other dates and intervals): ISO dates, postgres-style intervals, floats that read back exactly (extra_float_digits
    /// matters on sources before 12), hex bytea, and search_path pg_catalog so object names (regclass and the like) come
    /// schema-qualified. The apply session reads them in the same settings.
    /// </summary>
    public const string StreamTextSettings = "-c search_path=pg_catalog -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex";

    public NpgsqlDataSource CreateDataSource(EndpointDefinition endpoint, string applicationName, int maxPoolSize = 16)
    {
        var builder = Build(endpoint, applicationName);
        builder.MaxPoolSize = Math.Max(maxPoolSize, 1);
        return new NpgsqlDataSourceBuilder(builder.ConnectionString).Build();
    }

    /// <summary>Opens a connection, turning failures into a SyncException that names the side and endpoint.</summary>
    public static async Task<NpgsqlConnection> OpenAsync(NpgsqlDataSource dataSource, ServerSide side, EndpointDefinition endpoint, CancellationToken cancellationToken)
    {
        try
        {
            return await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            throw ConnectionError(side, endpoint, e);
        }
    }

    /// <summary>
    /// Whether a failure is the connection's (it could not be opened, was refused at login, or was lost), not the
    /// server's answer to a command on it: a command's error (a slot that cannot be made: wal_level, no free slot) is
    /// classified as what it is, and never reads as "cannot connect".
    /// </summary>
    public static bool IsConnectionFailure(Exception e) => e switch
    {
        TimeoutException or System.Net.Sockets.SocketException => true,
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("28", StringComparison.Ordinal)
                                || pg.SqlState.StartsWith("57P", StringComparison.Ordinal) || pg.SqlState is "3D000" or "53300",
        NpgsqlException => true,
        _ => false,
    };

    /// <summary>
    /// The source's refusal to make a replication slot, named with the source and the slot. A name still taken (an
    /// earlier attempt's temporary slot, whose walsender has not ended yet) is retried; the rest are classified as
    /// their SQLSTATE says.
    /// </summary>
    public static SyncException SlotRefused(EndpointDefinition endpoint, string slot, PostgresException refusal, string? target)
    {
        var info = ErrorClassifier.Classify(refusal, target);
        var busy = refusal.SqlState is "42710" or "55006";
        return new SyncException(info.ErrorId, busy ? SyncErrorCategory.ResourceBusy : info.Category,
            $"The source {endpoint} did not make replication slot {slot}: {info.Message}" + (busy ? " An earlier attempt's slot of that name is still in place; retrying." : ""),
            target, busy || info.Retriable, refusal, refusal.SqlState);
    }

    public static SyncException ConnectionError(ServerSide side, EndpointDefinition endpoint, Exception e)
    {
        var info = ErrorClassifier.Classify(e);
        var id = info.ErrorId switch
        {
            ErrorIds.AuthenticationFailed => ErrorIds.AuthenticationFailed,
            ErrorIds.PermissionDenied => ErrorIds.PermissionDenied,
            ErrorIds.DatabaseObjectNotFound => side == ServerSide.Source ? ErrorIds.SourceConnectionFailed : ErrorIds.DestinationConnectionFailed,
            _ => side == ServerSide.Source ? ErrorIds.SourceConnectionFailed : ErrorIds.DestinationConnectionFailed,
        };
        var category = info.Category == SyncErrorCategory.AuthenticationError ? SyncErrorCategory.AuthenticationError : SyncErrorCategory.ConnectionError;
        var retriable = category != SyncErrorCategory.AuthenticationError && info.ErrorId != ErrorIds.DatabaseObjectNotFound;
        var sideName = side == ServerSide.Source ? "source" : "destination";
        return new SyncException(id, category, $"Cannot connect to the {sideName} {endpoint}: {info.Message}", endpoint.ToString(), retriable, e,
            (e as PostgresException)?.SqlState);
    }
}
