using Sync.Engine.Catalog;
using Sync.Engine.Schema;

namespace Sync.Engine.Tests.FullSync;

/// <summary>
/// CREATE COLLATION for providers and options this machine's PostgreSQL 15 cannot show (builtin is 17+, ICU rules 16+);
/// libc and ICU are also covered against real servers in FullSyncTests.
/// </summary>
public sealed class CollationDdlTests
{
    private static readonly QualifiedName Target = new("app", "c1");

    [Fact]
    public void EachProviderKeepsItsOwnOptions()
    {
        Assert.Equal("CREATE COLLATION IF NOT EXISTS \"app\".\"c1\" (provider = builtin, locale = 'C.UTF-8')",
            SchemaBuilder.CollationDdl(Target, new CollationInfo { Name = Target, Provider = 'b', IcuLocale = "C.UTF-8" }));
        Assert.Equal("CREATE COLLATION IF NOT EXISTS \"app\".\"c1\" (provider = icu, locale = 'und', rules = '&V << w <<< W', deterministic = false)",
            SchemaBuilder.CollationDdl(Target, new CollationInfo { Name = Target, Provider = 'i', IcuLocale = "und", IcuRules = "&V << w <<< W", Deterministic = false }));
        Assert.Equal("CREATE COLLATION IF NOT EXISTS \"app\".\"c1\" (provider = libc, lc_collate = 'en_US.utf8', lc_ctype = 'en_US.utf8')",
            SchemaBuilder.CollationDdl(Target, new CollationInfo { Name = Target, Provider = 'c', Collate = "en_US.utf8", Ctype = "en_US.utf8" }));
        Assert.Equal("CREATE COLLATION IF NOT EXISTS \"app\".\"c1\" (provider = icu, locale = 'it''s')",
            SchemaBuilder.CollationDdl(Target, new CollationInfo { Name = Target, Provider = 'i', IcuLocale = "it's" }));
    }
}
