using Sync.Engine.Diagnostics;
using Sync.Engine.Security;

namespace Sync.Engine.Connections;

/// <summary>
/// What New-SyncEndpoint was given: either a connection string or host and database, plus the parts that override
/// it. <see cref="ToEndpoint"/> merges them by one rule: a credential overrides the string's user and password, a
/// passfile replaces any password, and an endpoint without a user name is refused.
/// </summary>
public sealed record EndpointRequest
{
    public string? ConnectionString { get; init; }
    public string? Host { get; init; }
    public int Port { get; init; } = 5432;
    public string? Database { get; init; }
    public string? UserName { get; init; }
    public (string UserName, Secret? Password)? Credential { get; init; }
    /// <summary>Null keeps the connection string's SSL mode (or Prefer when built from parts).</summary>
    public SslModeOption? SslMode { get; init; }
    public string? RootCertificate { get; init; }
    public string? ApplicationName { get; init; }
    public string? Passfile { get; init; }

    public EndpointInput ToEndpoint()
    {
        var endpoint = ConnectionString is not null
            ? EndpointParser.Parse(ConnectionString, "given")
            : new EndpointInput
            {
                Host = Host ?? throw Invalid("has no host name; give -HostName"),
                Port = Port,
                Database = Database ?? throw Invalid("has no database; give -Database"),
                Username = UserName ?? Credential?.UserName ?? "",
            };
        if (Credential is { } credential) endpoint = endpoint with { Username = credential.UserName, Password = credential.Password };
        if (SslMode is { } ssl) endpoint = endpoint with { SslMode = ssl };
        if (RootCertificate is not null) endpoint = endpoint with { RootCertificate = RootCertificate };
        if (ApplicationName is not null) endpoint = endpoint with { ApplicationName = ApplicationName };
        if (Passfile is not null) endpoint = endpoint with { Passfile = Passfile, Password = null };
        if (string.IsNullOrWhiteSpace(endpoint.Username))
            throw new SyncException(ErrorIds.EndpointInvalid, SyncErrorCategory.InvalidArgument,
                $"The endpoint {endpoint.Host}:{endpoint.Port}/{endpoint.Database} has no user name. Give -Credential (user and password) or -UserName.", endpoint.ToString());
        return endpoint;
    }

    private static SyncException Invalid(string problem) =>
        new(ErrorIds.EndpointInvalid, SyncErrorCategory.InvalidArgument, $"The endpoint {problem}.", "endpoint");
}
