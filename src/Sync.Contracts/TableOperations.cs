namespace Sync;

/// <summary>The operations a table's changes are synchronized for.</summary>
[Flags]
public enum TableOperations
{
    None = 0,
    Insert = 1,
    Update = 2,
    Delete = 4,
    /// <summary>DDL and TRUNCATE.</summary>
    Ddl = 8,
    All = Insert | Update | Delete | Ddl,
}
