using Sync.Engine.Connections;

namespace Sync;

/// <summary>
/// A PostgreSQL endpoint for -Source and -Destination: where to connect and how to log in. It never shows its
/// password; <see cref="HasPassword"/> says whether it carries one.
/// </summary>
public sealed class SyncEndpoint
{
    internal SyncEndpoint(EndpointInput input)
    {
        Input = input;
        HasPassword = input.Password is { IsEmpty: false };
    }

    internal SyncEndpoint(Engine.Tasks.EndpointDefinition stored)
        : this(new EndpointInput
        {
            Host = stored.Host, Port = stored.Port, Database = stored.Database, Username = stored.Username, SslMode = stored.SslMode,
            RootCertificate = stored.RootCertificate, ApplicationName = stored.ApplicationName, Passfile = stored.Passfile,
        }) => HasPassword = stored.Password is not null;

    internal EndpointInput Input { get; }

    public string HostName => Input.Host;
    public int Port => Input.Port;
    public string Database => Input.Database;
    public string UserName => Input.Username;
    public SslModeOption SslMode => Input.SslMode;
    public string? RootCertificate => Input.RootCertificate;
    public string? ApplicationName => Input.ApplicationName;
    public string? Passfile => Input.Passfile;
    public bool HasPassword { get; }

    public override string ToString() => Input.ToString();
}
