using Sync.Engine.Catalog;
using Sync.Engine.Schema;

namespace Sync.Engine.Stream;

/// <summary>
/// Whether the stream asks pgoutput for binary values (PostgreSQL 14+): the source then sends each value's send form
/// instead of running the type's output function, and the destination reads it with the receive function instead of
/// parsing text. A binary value is sent to the destination as a parameter of its type by OID, so it may be used only
/// where that OID means the same type on every server and the bytes hold no server-local OIDs: built-in types and
/// domains over them, not enums, composites, ranges or arrays of user types (their OIDs differ between servers), nor
/// the reg* types (their values are OIDs). A stream whose tables have any other column runs in text format, as all
/// streams did before. A value pgoutput cannot send in binary (a type without a send function) comes as text either way.
/// </summary>
public static class StreamFormat
{
    public const int BinaryVersion = 14;

    /// <summary>Object OIDs below this are assigned at initdb and name the same built-in object on every server.</summary>
    public const uint FirstNormalObjectId = 16384;

    public static bool BinaryPortable(ColumnInfo column) => !column.NeedsTextCopy && column.ValueTypeOid is > 0 and < FirstNormalObjectId;

    /// <summary>
    /// The format for a stream over <paramref name="tables"/>: binary, or text and why (null when the source is too old to
    /// be worth saying). <paramref name="forcedText"/> is a reason found earlier in this run (a binary value that could not
    /// be sent, <see cref="Apply.ApplyTable.Bind"/>), which keeps the stream in text.
    /// </summary>
    public static (bool Binary, string? WhyText) Choose(int sourceMajor, IEnumerable<ScopedTable> tables, string? forcedText)
    {
        if (StreamFeatures.EffectiveVersion(sourceMajor) < BinaryVersion) return (false, null);
        if (forcedText is not null) return (false, forcedText);
        foreach (var table in tables)
            foreach (var column in table.CopyColumns)
                if (!BinaryPortable(column))
                    return (false, $"column {column.Name} of {table.Name} has type {column.TypeText}, whose binary form cannot travel between servers");
        return (true, null);
    }
}
