using System.Reflection;
using Sync.Engine.Connections;
using Sync.Engine.Security;
using Sync.Engine.Tasks;

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

    [Fact]
    public void ATablesCopyRangesAreObjectsWithTheirStateRowsBytesAndTimes()
    {
        var started = DateTimeOffset.UtcNow.AddMinutes(-2);
        var progress = new TableProgress
        {
            Source = "public.orders", Destination = "public.orders", State = TableCopyState.Copying,
            Ranges =
            [
                new RangeProgress { Index = 1, Lower = "(1000,0)", State = TableCopyState.Copying, Rows = 50, Bytes = 4096, StartedAt = started },
                new RangeProgress { Index = 0, Upper = "(1000,0)", State = TableCopyState.Copied, Rows = 100, Bytes = 8192, StartedAt = started, EndedAt = started.AddMinutes(1) },
            ],
        };
        var table = (SyncTaskTable)typeof(SyncTaskTable).GetConstructor(BindingFlags.NonPublic | BindingFlags.Instance, [typeof(string), typeof(TableProgress), typeof(bool)])!
            .Invoke(["t", progress, false]);
        Assert.Equal((2, 1), (table.Ranges, table.RangesCopied));
        Assert.Equal([0, 1], table.CopyRanges.Select(r => r.Index));
        var first = table.CopyRanges[0];
        Assert.Equal((TableCopyState.Copied, 100L, 8192L, (string?)null, "(1000,0)"), (first.State, first.Rows, first.Bytes, first.Lower, first.Upper));
        Assert.Equal(started.AddMinutes(1).LocalDateTime, first.EndedAt);
        Assert.Null(table.CopyRanges[1].EndedAt);
    }
}
