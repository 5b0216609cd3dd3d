using System.Reflection;
using Sync.Engine.Connections;
using Sync.Engine.Security;

namespace Sync.PowerShell.Tests;

/// <summary>Output objects built the way the cmdlets build them (their constructors are internal).</summary>
public sealed class OutputObjectTests
{
    private static SyncEndpoint Endpoint(EndpointInput input) =>
        (SyncEndpoint)typeof(SyncEndpoint).GetConstructor(BindingFlags.NonPublic | BindingFlags.Instance, [typeof(EndpointInput)])!.Invoke([input]);

    [Fact]
    public void ANewEndpointSaysWhetherItCarriesAPasswordAndNeverShowsIt()
    {
        var withPassword = Endpoint(new EndpointInput { Host = "db", Database = "app", Username = "sync", Password = new Secret("pw-123") });
        Assert.True(withPassword.HasPassword);
        Assert.DoesNotContain("pw-123", withPassword.ToString());
        Assert.DoesNotContain(typeof(SyncEndpoint).GetProperties(), p => p.PropertyType == typeof(Secret) || p.Name.Contains("Password") && p.PropertyType != typeof(bool));
        Assert.False(Endpoint(new EndpointInput { Host = "db", Database = "app", Username = "sync", Passfile = "/p" }).HasPassword);
    }
}
