using System.Buffers.Binary;
using System.Text;

namespace Sync.Engine.Stream;

/// <summary>
/// Decodes one pgoutput message (logical replication protocol version 1) from the bytes of an XLogData payload into a
/// <see cref="StreamEvent"/>, in one synchronous pass over the buffer. Column values come as text, or as binary where the
/// stream was started with pgoutput's binary option and the type has a send function. The stream's per-change cost was
/// mostly in the driver's general-purpose decoder (an asynchronous read per column value); this reads the fixed layout
/// directly. Message formats: PostgreSQL's "Logical Replication Message Formats".
/// </summary>
public static class PgOutputParser
{
    private static readonly DateTimeOffset PostgresEpoch = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    /// <summary>
    /// For logical decoding messages: pgoutput sends every prefix's messages, written by any tool with any bytes; one that
    /// is not UTF-8 must not stop the stream (only the task's own heartbeats are read, and they are ASCII).
    /// </summary>
    private static readonly UTF8Encoding Lenient = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <summary>The event in <paramref name="data"/>, or null for messages the task does not use (types).</summary>
    /// <exception cref="FormatException">The bytes are not a well-formed message.</exception>
    public static StreamEvent? Parse(ReadOnlySpan<byte> data)
    {
        var reader = new Reader(data);
        var kind = (char)reader.Byte();
        StreamEvent? parsed = kind switch
        {
            'B' => Begin(ref reader),
            'C' => Commit(ref reader),
            'O' => Origin(ref reader),
            'R' => Relation(ref reader),
            'Y' => null,
            'I' => Insert(ref reader),
            'U' => Update(ref reader),
            'D' => Delete(ref reader),
            'T' => Truncate(ref reader),
            'M' => Message(ref reader),
            _ => throw new FormatException($"Unknown pgoutput message type '{kind}' (protocol version 1 expected)."),
        };
        return parsed;
    }

    private static BeginEvent Begin(ref Reader reader)
    {
        var finalLsn = reader.UInt64();
        var time = reader.Timestamp();
        var xid = reader.UInt32();
        return new BeginEvent(xid, new SyncLsn(finalLsn), time);
    }

    private static CommitEvent Commit(ref Reader reader)
    {
        reader.Byte();   // flags, unused
        var commitLsn = reader.UInt64();
        var endLsn = reader.UInt64();
        return new CommitEvent(new SyncLsn(commitLsn), new SyncLsn(endLsn), reader.Timestamp());
    }

    private static OriginEvent Origin(ref Reader reader)
    {
        reader.UInt64();   // the commit position on the origin server
        return new OriginEvent(reader.CString());
    }

    private static RelationEvent Relation(ref Reader reader)
    {
        var id = reader.UInt32();
        var schema = reader.CString();
        var name = reader.CString();
        var identity = (char)reader.Byte();
        var count = reader.Int16();
        var columns = new string[count];
        var keys = new bool[count];
        var types = new uint[count];
        for (var i = 0; i < count; i++)
        {
            keys[i] = (reader.Byte() & 1) != 0;
            columns[i] = reader.CString();
            types[i] = reader.UInt32();
            reader.UInt32();   // type modifier
        }
        // pgoutput writes an empty namespace for pg_catalog.
        return new RelationEvent(id, schema.Length == 0 ? "pg_catalog" : schema, name, columns, keys, identity == 'f') { TypeOids = types };
    }

    private static RowEvent Insert(ref Reader reader)
    {
        var relation = reader.UInt32();
        reader.Expect('N');
        var (values, unchanged) = reader.Tuple();
        return new RowEvent(RowChangeKind.Insert, relation, null, false, values, unchanged);
    }

    private static RowEvent Update(ref Reader reader)
    {
        var relation = reader.UInt32();
        ColumnValue[]? old = null;
        var full = false;
        var marker = (char)reader.Byte();
        if (marker is 'K' or 'O')
        {
            full = marker == 'O';
            (old, _) = reader.Tuple();
            marker = (char)reader.Byte();
        }
        if (marker != 'N') throw new FormatException($"Expected the new tuple ('N') in an update, found '{marker}'.");
        var (values, unchanged) = reader.Tuple();
        return new RowEvent(RowChangeKind.Update, relation, old, full, values, unchanged);
    }

    private static RowEvent Delete(ref Reader reader)
    {
        var relation = reader.UInt32();
        var marker = (char)reader.Byte();
        if (marker is not ('K' or 'O')) throw new FormatException($"Expected the old key ('K') or row ('O') in a delete, found '{marker}'.");
        var (old, _) = reader.Tuple();
        return new RowEvent(RowChangeKind.Delete, relation, old, marker == 'O', null, null);
    }

    private static TruncateEvent Truncate(ref Reader reader)
    {
        var count = reader.UInt32();
        var options = reader.Byte();
        var relations = new uint[count];
        for (var i = 0; i < relations.Length; i++) relations[i] = reader.UInt32();
        return new TruncateEvent(relations, (options & 1) != 0, (options & 2) != 0);
    }

    private static HeartbeatEvent Message(ref Reader reader)
    {
        reader.Byte();   // flags: transactional or not; the consumers tell by the surrounding Begin/Commit
        var lsn = reader.UInt64();
        var prefix = reader.CString(Lenient);
        var length = reader.Int32();
        return new HeartbeatEvent(new SyncLsn(lsn), prefix, reader.Text(length, Lenient));
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _at;

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count < 0 || _at + count > _data.Length)
                throw new FormatException($"A pgoutput message ended early: {count} bytes wanted at offset {_at} of {_data.Length}.");
            var span = _data.Slice(_at, count);
            _at += count;
            return span;
        }

        public byte Byte() => Take(1)[0];
        public short Int16() => BinaryPrimitives.ReadInt16BigEndian(Take(2));
        public int Int32() => BinaryPrimitives.ReadInt32BigEndian(Take(4));
        public uint UInt32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));
        public ulong UInt64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));
        public DateTimeOffset Timestamp() => PostgresEpoch.AddTicks(BinaryPrimitives.ReadInt64BigEndian(Take(8)) * 10);
        public string Text(int length, Encoding? encoding = null) => (encoding ?? Utf8).GetString(Take(length));

        public void Expect(char marker)
        {
            var found = (char)Byte();
            if (found != marker) throw new FormatException($"Expected '{marker}' in a pgoutput message, found '{found}'.");
        }

        public string CString(Encoding? encoding = null)
        {
            var end = _data[_at..].IndexOf((byte)0);
            if (end < 0) throw new FormatException("A pgoutput string has no terminator.");
            var text = (encoding ?? Utf8).GetString(_data.Slice(_at, end));
            _at += end + 1;
            return text;
        }

        /// <summary>TupleData: null, unchanged TOAST value (flagged, never null), text, or binary.</summary>
        public (ColumnValue[] Values, bool[] Unchanged) Tuple()
        {
            var count = Int16();
            var values = new ColumnValue[count];
            var unchanged = new bool[count];
            for (var i = 0; i < count; i++)
            {
                var kind = (char)Byte();
                switch (kind)
                {
                    case 'n':
                        break;
                    case 'u':
                        unchanged[i] = true;
                        break;
                    case 't':
                        values[i] = ColumnValue.FromText(Text(Int32()));
                        break;
                    case 'b':
                        values[i] = ColumnValue.FromBinary(Take(Int32()).ToArray());
                        break;
                    default:
                        throw new FormatException($"Unexpected column kind '{kind}' in a pgoutput tuple.");
                }
            }
            return (values, unchanged);
        }
    }
}
