using Sync.Engine.Catalog;
using Sync.Engine.Tasks;

namespace Sync.Engine.Tests.Tasks;

public sealed class NamePatternTests
{
    [Theory]
    [InlineData("orders", "public", "orders")]
    [InlineData("Sales.Orders", "sales", "orders")]
    [InlineData("\"Sales\".\"Order Lines\"", "Sales", "Order Lines")]
    [InlineData("\"a.b\".\"c\"\"d\"", "a.b", "c\"d")]
    public void QualifiedNamesFollowPsqlRules(string text, string schema, string name) =>
        Assert.Equal(new QualifiedName(schema, name), QualifiedName.Parse(text));

    [Theory]
    [InlineData("a.b.c")]
    [InlineData("\"unclosed")]
    [InlineData(".x")]
    public void MalformedNamesAreRefused(string text) => Assert.Throws<FormatException>(() => QualifiedName.Parse(text));

    [Fact]
    public void SqlTextIsAlwaysQuoted() =>
        Assert.Equal("\"public\".\"a\"\"b; drop table x\"", new QualifiedName("public", "a\"b; drop table x").Sql);

    [Theory]
    [InlineData("order*", "sales", "orders", true)]
    [InlineData("order*", "sales", "Orders", false)]
    [InlineData("\"Order*\"", "sales", "Order*", true)]
    [InlineData("\"Order*\"", "sales", "Orders", false)]
    [InlineData("sales.ord?rs", "sales", "orders", true)]
    [InlineData("sales.*", "hr", "orders", false)]
    [InlineData("*", "x", "anything", true)]
    public void TablePatternsMatchLikePsql(string pattern, string schema, string table, bool expected) =>
        Assert.Equal(expected, NamePattern.ForTable(pattern).MatchesTable(new QualifiedName(schema, table)));

    [Theory]
    [InlineData("ORD*", "orders", true)]
    [InlineData("ord[e]rs", "orders", true)]
    [InlineData("o`*", "o*", true)]
    [InlineData("o`*", "ox", false)]
    public void TaskNameWildcardsArePowerShellStyle(string pattern, string name, bool expected) =>
        Assert.Equal(expected, Wildcard.IsMatch(pattern, name));

    [Fact]
    public void LsnRoundTripsAndOrders()
    {
        var a = SyncLsn.Parse("0/16B3748");
        var b = SyncLsn.Parse("1/0");
        Assert.Equal("0/16B3748", a.ToString());
        Assert.True(a < b);
        Assert.Equal((long)(0x100000000 - 0x16B3748), b.BytesAfter(a));
        Assert.False(SyncLsn.TryParse("16B3748", out _));
    }

    [Fact]
    public void ServerObjectNamesCarryTheTaskNameAndFitTheLimit()
    {
        var name = TaskNaming.Prefix("Orders-EU_" + new string('x', 45), "0a1b2c3d");
        Assert.StartsWith("sync_orders_eu_", name);
        Assert.EndsWith("_0a1b2c3d", name);
        Assert.True(name.Length <= 63);
        Assert.Matches("^[a-z0-9_]+$", name);

        // Helper tables: cut to 63 bytes as the server would, and still recognised as helper tables by the catalog reader.
        var task = new TaskDefinition { Name = "orders-eu-" + new string('x', 40), Id = "0a1b2c3d", Source = null!, Destination = null! };
        foreach (var helper in new[] { TaskNaming.CheckpointTable(task), TaskNaming.HeartbeatTable(task), TaskNaming.CopyProgressTable(task) })
        {
            Assert.True(helper.Length <= TaskNaming.MaxIdentifierLength, helper);
            Assert.StartsWith(TaskNaming.Prefix(task) + "_", helper);
            Assert.Matches(Sync.Engine.Catalog.CatalogReader.HelperTablePattern, helper);
        }
        Assert.DoesNotMatch(Sync.Engine.Catalog.CatalogReader.HelperTablePattern, "orders");
        Assert.DoesNotMatch(Sync.Engine.Catalog.CatalogReader.HelperTablePattern, "sync_notes");
    }
}
