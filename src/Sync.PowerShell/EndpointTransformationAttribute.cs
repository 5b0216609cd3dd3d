using System.Management.Automation;
using Sync.Engine.Connections;

namespace Sync.PowerShell;

/// <summary>
/// Lets -Source and -Destination take a connection string or postgresql:// URI as well as a SyncEndpoint,
/// so New-SyncTask -Source 'Host=db1;Database=app;Username=sync' works without New-SyncEndpoint.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class EndpointTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var value = inputData is PSObject ps ? ps.BaseObject : inputData;
        return value switch
        {
            SyncEndpoint endpoint => endpoint,
            string text => Parse(text),
            _ => throw new ArgumentTransformationMetadataException(
                $"Cannot use a {value?.GetType().Name ?? "null"} as an endpoint. Give a connection string, a postgresql:// URI, or the output of New-SyncEndpoint."),
        };
    }

    private static SyncEndpoint Parse(string text)
    {
        try { return new SyncEndpoint(EndpointParser.Parse(text, "given")); }
        catch (Engine.Diagnostics.SyncException e) { throw new ArgumentTransformationMetadataException(e.Message, e); }
    }
}
