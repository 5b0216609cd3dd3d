using System.Management.Automation;
using Sync.Engine.Connections;
using Sync.Engine.Security;

namespace Sync.PowerShell.Commands;

/// <summary>
/// Describes a PostgreSQL database for -Source and -Destination. The password comes from -Credential (or the
/// connection string) and is only ever stored sealed with the store key; or name a libpq -Passfile instead.
/// </summary>
[Cmdlet(VerbsCommon.New, "SyncEndpoint", DefaultParameterSetName = PartsSet)]
[OutputType(typeof(SyncEndpoint))]
public sealed class NewSyncEndpointCommand : SyncCmdlet
{
    public const string PartsSet = "Parts";
    public const string ConnectionStringSet = "ConnectionString";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PartsSet)]
    [Alias("Server")]
    [ValidateNotNullOrEmpty]
    public string HostName { get; set; } = "";

    [Parameter(ParameterSetName = PartsSet)]
    [ValidateRange(1, 65535)]
    public int Port { get; set; } = 5432;

    [Parameter(Mandatory = true, Position = 1, ParameterSetName = PartsSet)]
    [ValidateNotNullOrEmpty]
    public string Database { get; set; } = "";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ConnectionStringSet)]
    [ValidateNotNullOrEmpty]
    public string ConnectionString { get; set; } = "";

    /// <summary>User name and password. Overrides the user and password of a connection string.</summary>
    [Parameter]
    [Credential]
    public PSCredential? Credential { get; set; }

    /// <summary>The user name when no password is needed (passfile, trust, certificate).</summary>
    [Parameter(ParameterSetName = PartsSet)]
    public string? UserName { get; set; }

    [Parameter]
    public SslModeOption SslMode { get; set; } = SslModeOption.Prefer;

    [Parameter]
    public string? RootCertificate { get; set; }

    [Parameter]
    public string? ApplicationName { get; set; }

    [Parameter]
    public string? Passfile { get; set; }

    protected override void ProcessRecord()
    {
        try
        {
            var endpoint = ParameterSetName == ConnectionStringSet
                ? EndpointParser.Parse(ConnectionString, "given")
                : new EndpointInput { Host = HostName, Port = Port, Database = Database, Username = UserName ?? Credential?.UserName ?? "" };
            if (ParameterConversion.Credential(Credential) is { } credential)
                endpoint = endpoint with { Username = credential.UserName, Password = credential.Password };
            var bound = MyInvocation.BoundParameters;
            if (bound.ContainsKey(nameof(SslMode)) || ParameterSetName == PartsSet) endpoint = endpoint with { SslMode = SslMode };
            if (RootCertificate is not null) endpoint = endpoint with { RootCertificate = GetUnresolvedProviderPathFromPSPath(RootCertificate) };
            if (ApplicationName is not null) endpoint = endpoint with { ApplicationName = ApplicationName };
            if (Passfile is not null) endpoint = endpoint with { Passfile = GetUnresolvedProviderPathFromPSPath(Passfile), Password = null };
            if (string.IsNullOrWhiteSpace(endpoint.Username))
            {
                ThrowSyncError(new Engine.Diagnostics.SyncException(Engine.Diagnostics.ErrorIds.EndpointInvalid, Engine.Diagnostics.SyncErrorCategory.InvalidArgument,
                    "The endpoint has no user name. Give -Credential (user and password) or -UserName.", endpoint.ToString()), endpoint.ToString());
                return;
            }
            WriteObject(new SyncEndpoint(endpoint));
        }
        catch (Engine.Diagnostics.SyncException e)
        {
            ThrowSyncError(e, "endpoint");
        }
    }
}
