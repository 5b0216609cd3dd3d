using Sync.Engine.Security;
using Sync.Engine.Tasks;

namespace Sync.Engine.Connections;

/// <summary>An endpoint as a user gives it, with the password in plain text until the task seals it.</summary>
public sealed record EndpointInput
{
    public required string Host { get; init; }
    public int Port { get; init; } = 5432;
    public required string Database { get; init; }
    public required string Username { get; init; }
    public SslModeOption SslMode { get; init; } = SslModeOption.Prefer;
    public string? RootCertificate { get; init; }
    public string? ApplicationName { get; init; }
    public string? Passfile { get; init; }
    public Secret? Password { get; init; }

    /// <summary>Seals the password with the store's key: the only form in which it is kept.</summary>
    public EndpointDefinition Seal(ISecretProtector protector) => new()
    {
        Host = Host, Port = Port, Database = Database, Username = Username, SslMode = SslMode,
        RootCertificate = RootCertificate, ApplicationName = ApplicationName, Passfile = Passfile,
        Password = Password is { IsEmpty: false } p ? protector.Protect(p) : null,
    };

    public override string ToString() => $"{Username}@{Host}:{Port}/{Database}";
}
