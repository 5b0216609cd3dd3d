namespace Sync.Engine.Catalog;

/// <summary>A table or view column as the source catalog describes it.</summary>
public sealed record ColumnInfo
{
    public required string Name { get; init; }
    public required int Number { get; init; }
    public required uint TypeOid { get; init; }
    /// <summary>format_type text with search_path = pg_catalog: built-in types bare, others schema-qualified.</summary>
    public required string TypeText { get; init; }
    /// <summary>Schema of the type (or of the array's element type) when it is not a built-in type.</summary>
    public string? UserTypeSchema { get; init; }
    /// <summary>Name of the user type (or the array's element type).</summary>
    public string? UserTypeName { get; init; }
    public bool IsArray { get; init; }
    public bool NotNull { get; init; }
    public string? Default { get; init; }
    /// <summary>'a' (always) or 'd' (by default) for identity columns.</summary>
    public string? Identity { get; init; }
    /// <summary>The expression of a stored generated column.</summary>
    public string? Generated { get; init; }
    /// <summary>The column's collation when it differs from its type's.</summary>
    public QualifiedName? Collation { get; init; }
    /// <summary>
    /// True when binary COPY cannot carry the value between servers: composites and arrays of types whose OIDs are not
    /// the same everywhere (their binary form embeds type OIDs), the reg* types (their binary form is an object's OID),
    /// types (and arrays of types) without binary I/O.
    /// </summary>
    public bool NeedsTextCopy { get; init; }
    /// <summary>The type whose binary form the values have: a domain's base type, else the column's type (0 when not read).</summary>
    public uint ValueTypeOid { get; init; }
    /// <summary>The enum the values are of (the column's type, or a domain's base type): its send form is the label, which the destination's enum of that name reads.</summary>
    public QualifiedName? EnumType { get; init; }
    public bool IsEnum => EnumType is not null;
    /// <summary>Values can be TOASTed (varlena with a storage other than plain).</summary>
    public bool Toastable { get; init; }
}
