using Sync.Engine.Connections;
using Sync.Engine.Diagnostics;
using Sync.Engine.Security;

namespace Sync.Engine.Tests.Connections;

/// <summary>How New-SyncEndpoint's parameters combine into an endpoint.</summary>
public sealed class EndpointRequestTests
{
    [Fact]
    public void PartsAndACredentialGiveUserAndPassword()
    {
        var endpoint = new EndpointRequest { Host = "db1", Database = "shop", Credential = ("sync", new Secret("s3cret!")), SslMode = SslModeOption.Require }.ToEndpoint();
        Assert.Equal(("db1", 5432, "shop", "sync", SslModeOption.Require), (endpoint.Host, endpoint.Port, endpoint.Database, endpoint.Username, endpoint.SslMode));
        Assert.Equal("s3cret!", endpoint.Password!.Reveal());
        Assert.DoesNotContain("s3cret", endpoint.ToString());
    }

    [Fact]
    public void ACredentialOverridesTheConnectionStringsUserAndPasswordAndItsSslModeIsKept()
    {
        var endpoint = new EndpointRequest { ConnectionString = "Host=db2;Port=6543;Database=app;Username=old;Password=oldpw;SSL Mode=VerifyFull", Credential = ("new", new Secret("newpw")) }.ToEndpoint();
        Assert.Equal(("db2", 6543, "new", SslModeOption.VerifyFull), (endpoint.Host, endpoint.Port, endpoint.Username, endpoint.SslMode));
        Assert.Equal("newpw", endpoint.Password!.Reveal());
        var keptPassword = new EndpointRequest { ConnectionString = "postgresql://u:p%40ss@db3/app" }.ToEndpoint();
        Assert.Equal(("u", "p@ss"), (keptPassword.Username, keptPassword.Password!.Reveal()));
    }

    [Fact]
    public void APassfileReplacesAnyPassword()
    {
        var endpoint = new EndpointRequest { ConnectionString = "Host=db;Database=app;Username=u;Password=pw", Passfile = "/home/u/.pgpass" }.ToEndpoint();
        Assert.Null(endpoint.Password);
        Assert.Equal("/home/u/.pgpass", endpoint.Passfile);
    }

    [Fact]
    public void AnEndpointWithoutAUserIsRefusedWithTheFix()
    {
        var e = Assert.Throws<SyncException>(() => new EndpointRequest { Host = "db", Database = "app" }.ToEndpoint());
        Assert.Equal(ErrorIds.EndpointInvalid, e.ErrorId);
        Assert.Contains("db:5432/app", e.Message);
        Assert.Contains("-Credential", e.Message);
    }
}
