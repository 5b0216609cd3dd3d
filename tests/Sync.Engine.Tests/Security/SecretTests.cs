using Sync.Engine.Connections;
using Sync.Engine.Diagnostics;
using Sync.Engine.Security;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Security;

public sealed class SecretTests : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void SealedSecretOpensWithTheSameKeyOnly()
    {
        var sealedSecret = _temp.Store.Secrets.Protect(new Secret("s3cr3t-Pässword"));

        Assert.Equal("s3cr3t-Pässword", _temp.Store.Secrets.Unprotect(sealedSecret, "test").Reveal());
        Assert.DoesNotContain("s3cr3t", sealedSecret.Data);
        using var other = new TempStore();
        var e = Assert.Throws<SyncException>(() => other.Store.Secrets.Unprotect(sealedSecret, "the source"));
        Assert.Equal(ErrorIds.SecretDecryptionFailed, e.ErrorId);
        Assert.Contains("another store key", e.Message);
    }

    [Fact]
    public void TamperedSecretIsDetected()
    {
        var sealedSecret = _temp.Store.Secrets.Protect(new Secret("abc"));
        var bytes = Convert.FromBase64String(sealedSecret.Data);
        bytes[^1] ^= 1;

        var e = Assert.Throws<SyncException>(() => _temp.Store.Secrets.Unprotect(sealedSecret with { Data = Convert.ToBase64String(bytes) }, "x"));

        Assert.Equal(ErrorIds.SecretDecryptionFailed, e.ErrorId);
    }

    [Fact]
    public void KeyFileIsOwnerOnly()
    {
        _temp.Store.Secrets.Protect(new Secret("x"));
        var key = Path.Combine(_temp.Root, "store.key");
        Assert.True(File.Exists(key));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
    }

    [Fact]
    public void SecretsNeverPrintThemselves()
    {
        var secret = new Secret("hunter2");
        var endpoint = new EndpointInput { Host = "h", Database = "d", Username = "u", Password = secret };
        Assert.Equal(Secret.Mask, secret.ToString());
        Assert.Equal(Secret.Mask, $"{secret}");
        Assert.DoesNotContain("hunter2", endpoint.ToString());
        Assert.DoesNotContain("hunter2", endpoint.Seal(_temp.Store.Secrets).ToString());
    }

    [Theory]
    [InlineData("Host=db1;Port=6432;Database=app;Username=sync;Password=pa;ss=word")]
    [InlineData("postgresql://sync:pa%3Bss%3Dword@db1:6432/app?sslmode=require")]
    public void ConnectionStringsYieldTheirPasswordAsASecret(string text)
    {
        var parsed = EndpointParser.Parse(text.Replace("pa;ss=word", "\"pa;ss=word\""), "source");
        Assert.Equal("db1", parsed.Host);
        Assert.Equal(6432, parsed.Port);
        Assert.Equal("app", parsed.Database);
        Assert.Equal("sync", parsed.Username);
        Assert.Equal("pa;ss=word", parsed.Password!.Reveal());
    }

    [Fact]
    public void BadConnectionStringErrorsDoNotRepeatTheString()
    {
        var e = Assert.Throws<SyncException>(() => EndpointParser.Parse("Host=db1;Database=app;Usrname=sync;Password=topsecret1", "source"));
        Assert.Equal(ErrorIds.EndpointInvalid, e.ErrorId);
        Assert.DoesNotContain("topsecret1", e.Message);
        Assert.Contains("source", e.Message);
    }
}
