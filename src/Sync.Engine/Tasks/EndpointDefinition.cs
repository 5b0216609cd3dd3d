using Sync.Engine.Security;

namespace Sync.Engine.Tasks;

/// <summary>
/// Where a task reads or writes: a PostgreSQL database and how to log in. The password is kept only in
/// protected form (or a passfile is referenced); <see cref="ToString"/> never shows either.
/// </summary>
public sealed record EndpointDefinition
{
    public required string Host { get; init; }
    public int Port { get; init; } = 5432;
    public required string Database { get; init; }
    public required string Username { get; init; }
    public SslModeOption SslMode { get; init; } = SslModeOption.Prefer;
    /// <summary>Root certificate file for VerifyCA/VerifyFull.</summary>
    public string? RootCertificate { get; init; }
    public string? ApplicationName { get; init; }
    /// <summary>A libpq password file to read the password from instead of the store.</summary>
    public string? Passfile { get; init; }
    public ProtectedSecret? Password { get; init; }

    /// <summary>user@host:port/database — safe for messages and logs.</summary>
    public override string ToString() => $"{Username}@{Host}:{Port}/{Database}";
}
