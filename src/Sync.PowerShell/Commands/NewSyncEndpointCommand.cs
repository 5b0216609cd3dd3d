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
        var request = new EndpointRequest
        {
            ConnectionString = ParameterSetName == ConnectionStringSet ? ConnectionString : null,
            Host = ParameterSetName == PartsSet ? HostName : null,
            Port = Port,
            Database = ParameterSetName == PartsSet ? Database : null,
            UserName = UserName,
            Credential = ParameterConversion.Credential(Credential),
            SslMode = MyInvocation.BoundParameters.ContainsKey(nameof(SslMode)) || ParameterSetName == PartsSet ? SslMode : null,
            RootCertificate = RootCertificate is null ? null : GetUnresolvedProviderPathFromPSPath(RootCertificate),
            ApplicationName = ApplicationName,
            Passfile = Passfile is null ? null : GetUnresolvedProviderPathFromPSPath(Passfile),
        };
        try
        {
            WriteObject(new SyncEndpoint(request.ToEndpoint()));
        }
        catch (Engine.Diagnostics.SyncException e)
        {
            ThrowSyncError(e, e.Target ?? request.Host ?? "endpoint");
        }
    }
}
