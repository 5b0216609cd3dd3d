namespace Sync.Engine.Catalog;

/// <summary>A collation created in a user schema (CREATE COLLATION), which the destination lacks until it is created.</summary>
public sealed record CollationInfo
{
    public required QualifiedName Name { get; init; }
    /// <summary>'c' (libc), 'i' (ICU) or 'b' (builtin, PostgreSQL 17+).</summary>
    public required char Provider { get; init; }
    public bool Deterministic { get; init; } = true;
    public string? Collate { get; init; }
    public string? Ctype { get; init; }
    /// <summary>The ICU or builtin locale (PostgreSQL 15+ keeps it apart from collcollate; 17 names it colllocale).</summary>
    public string? IcuLocale { get; init; }
    /// <summary>ICU tailoring rules (PostgreSQL 16+).</summary>
    public string? IcuRules { get; init; }
}
