using Npgsql;
using Sync.Engine.Catalog;
using Sync.Engine.Diagnostics;
using Sync.Engine.Schema;

namespace Sync.Engine.Stream;

/// <summary>
/// Whether the stream asks pgoutput for binary values (PostgreSQL 14+): the source then sends each value's send form
/// instead of running the type's output function, and the destination reads it with the receive function instead of
/// parsing text. A binary value is sent to the destination as a parameter of its type by OID, so it may be used only
/// where that OID means the same type on every server and the bytes hold no server-local OIDs: built-in types and
/// domains over them. Enums too (and domains over them): their send form is the label, so a value is sent as the
/// destination's enum of the same name, by that enum's OID there (<see cref="DestinationTypes"/>). Not composites,
/// user ranges or arrays of user types (their bytes hold the source's OIDs), nor the reg* types (their values are
/// OIDs). Arrays stay in text too: set-wise apply would need an array of arrays,
/// which PostgreSQL does not have, and row-by-row apply of every change to such a table costs more than binary saves.
/// A stream whose tables have any other column runs in text format, as all streams did before.
/// </summary>
public static class StreamFormat
{
    public const int BinaryVersion = 14;

    /// <summary>Marks the failure that restarts the stream in text format; its value says why (the run keeps it, TaskRunContext.StreamInText).</summary>
    public const string TextRestartKey = "StreamInText";

    /// <summary>The retriable failure after which the stream starts again in text format, from its checkpoint.</summary>
    public static SyncException TextRestart(string why, string target, Exception? inner = null, string? sqlState = null) =>
        new(ErrorIds.StreamOutOfStep, SyncErrorCategory.InvalidData, $"The stream restarts in text format: {why}.", target, retriable: true, inner, sqlState)
        {
            Data = { [TextRestartKey] = why },
        };

    /// <summary>
    /// Why the stream runs in text whatever its tables: a reason found earlier in this run (<paramref name="inRun"/>,
    /// <see cref="TextRestart"/>), or the task's own option; null when neither holds.
    /// </summary>
    public static string? ForcedText(Tasks.TaskDefinition task, string? inRun) =>
        inRun ?? (task.Options.StreamFormat == StreamFormatOption.Text ? "the task's stream format is Text (Set-SyncTask -StreamFormat Auto streams in binary where the types allow it)" : null);

    /// <summary>The source's walsender could not write a value in binary form ("no binary output function available").</summary>
    public static SyncException? SourceCannotSend(Exception e, bool binary, string target) =>
        binary && e is PostgresException { SqlState: "42883" } unsendable
            ? TextRestart($"the source could not send a value in binary form ({unsendable.MessageText})", target, e, unsendable.SqlState)
            : null;

    /// <summary>
    /// OIDs below this are assigned by hand in PostgreSQL's sources and name the same built-in object on every server
    /// (pgoutput draws the same line); those above it, up to 16384, are assigned at initdb (information_schema's domains)
    /// and differ between major versions.
    /// </summary>
    public const uint FirstGenbkiObjectId = 10000;

    /// <summary>
    /// The destination type a binary value of <paramref name="column"/> is sent as, and its array type (0 for a built-in
    /// type, whose array the driver knows), or null when the column's binary form cannot travel.
    /// </summary>
    public static (uint Oid, uint ArrayOid)? BinaryType(ColumnInfo column, DestinationTypes types)
    {
        if (column.NeedsTextCopy || column.IsArray) return null;
        if (column.ValueTypeOid is > 0 and < FirstGenbkiObjectId) return (column.ValueTypeOid, 0);
        return column.IsEnum ? types.Enum(column.ValueTypeOid) : null;
    }

    public static bool BinaryPortable(ColumnInfo column, DestinationTypes types) => BinaryType(column, types) is not null;

    /// <summary>
    /// The format for a stream over <paramref name="tables"/>: binary, or text and why (null when the source is too old to
    /// be worth saying). <paramref name="forcedText"/> is a reason found earlier in this run (a binary value that could not
    /// be sent, <see cref="Apply.ApplyTable.Bind"/>), which keeps the stream in text. An enum counts only where
    /// <paramref name="types"/> knows the destination's.
    /// </summary>
    public static (bool Binary, string? WhyText) Choose(int sourceMajor, IEnumerable<ScopedTable> tables, string? forcedText, DestinationTypes types)
    {
        if (StreamFeatures.EffectiveVersion(sourceMajor) < BinaryVersion) return (false, null);
        if (forcedText is not null) return (false, forcedText);
        foreach (var table in tables)
            foreach (var column in table.CopyColumns)
                if (!BinaryPortable(column, types))
                    return (false, column.IsEnum && !column.IsArray
                        ? $"column {column.Name} of {table.Name} has type {column.TypeText}, whose enum the destination does not have under the name the task gives it"
                        : $"column {column.Name} of {table.Name} has type {column.TypeText}, which the stream does not send in binary form");
        return (true, null);
    }
}
