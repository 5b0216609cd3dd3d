using System.Buffers.Binary;
using System.Text;
using Sync.Engine.Stream;

namespace Sync.Engine.Tests.Stream;

/// <summary>The pgoutput decoder on hand-built messages (the stream tests cover it against real servers).</summary>
public sealed class PgOutputParserTests
{
    private sealed class Message
    {
        private readonly List<byte> _bytes = [];
        public Message(char kind) => _bytes.Add((byte)kind);
        public Message Byte(int value) { _bytes.Add((byte)value); return this; }
        public Message Int16(short value) { var b = new byte[2]; BinaryPrimitives.WriteInt16BigEndian(b, value); _bytes.AddRange(b); return this; }
        public Message Int32(int value) { var b = new byte[4]; BinaryPrimitives.WriteInt32BigEndian(b, value); _bytes.AddRange(b); return this; }
        public Message Int64(long value) { var b = new byte[8]; BinaryPrimitives.WriteInt64BigEndian(b, value); _bytes.AddRange(b); return this; }
        public Message String(string value) { _bytes.AddRange(Encoding.UTF8.GetBytes(value)); _bytes.Add(0); return this; }
        public Message Text(string value) { var b = Encoding.UTF8.GetBytes(value); Byte('t').Int32(b.Length); _bytes.AddRange(b); return this; }
        public Message Binary(params byte[] value) { Byte('b').Int32(value.Length); _bytes.AddRange(value); return this; }
        public byte[] Bytes => [.. _bytes];
    }

    private static void Seq(string?[] expected, ColumnValue[]? actual)
    {
        Assert.Equal(string.Join("|", expected.Select(v => v ?? "<null>")), actual is null ? "<none>" : string.Join("|", actual.Select(v => v.IsNull ? "<null>" : v.Text)));
        Assert.All(actual ?? [], v => Assert.False(v.IsBinary));
    }

    [Fact]
    public void BeginAndCommitCarryTheirPositionsAndTimes()
    {
        var begin = Assert.IsType<BeginEvent>(PgOutputParser.Parse(new Message('B').Int64(0x1_0000_0010).Int64(1_000_000).Int32(742).Bytes));
        Assert.Equal(new SyncLsn(0x1_0000_0010), begin.CommitLsn);
        Assert.Equal(742u, begin.Xid);
        Assert.Equal(new DateTimeOffset(2000, 1, 1, 0, 0, 1, TimeSpan.Zero), begin.CommitTime);
        var commit = Assert.IsType<CommitEvent>(PgOutputParser.Parse(new Message('C').Byte(0).Int64(0x20).Int64(0x48).Int64(2_500_000).Bytes));
        Assert.Equal(new SyncLsn(0x20), commit.CommitLsn);
        Assert.Equal(new SyncLsn(0x48), commit.EndLsn);
        Assert.Equal(new DateTimeOffset(2000, 1, 1, 0, 0, 2, 500, TimeSpan.Zero), commit.CommitTime);
    }

    [Fact]
    public void ARelationNamesItsKeyColumnsAndIdentity()
    {
        var bytes = new Message('R').Int32(16384).String("sales").String("Orders ü").Byte('f').Int16(2)
            .Byte(1).String("id").Int32(23).Int32(-1)
            .Byte(0).String("note \"x\"").Int32(25).Int32(-1).Bytes;
        var relation = Assert.IsType<RelationEvent>(PgOutputParser.Parse(bytes));
        Assert.Equal((16384u, "sales", "Orders ü"), (relation.RelationId, relation.Schema, relation.Name));
        Assert.Equal(["id", "note \"x\""], relation.Columns);
        Assert.Equal([true, false], relation.KeyColumns);
        Assert.Equal([23u, 25u], relation.TypeOids);
        Assert.True(relation.FullIdentity);
        var catalog = Assert.IsType<RelationEvent>(PgOutputParser.Parse(new Message('R').Int32(1).String("").String("t").Byte('d').Int16(0).Bytes));
        Assert.Equal("pg_catalog", catalog.Schema);
        Assert.False(catalog.FullIdentity);
    }

    [Fact]
    public void TuplesKeepNullsUnchangedToastValuesAndTextApart()
    {
        var insert = Assert.IsType<RowEvent>(PgOutputParser.Parse(new Message('I').Int32(7).Byte('N').Int16(3).Text("42").Byte('n').Text("").Bytes));
        Assert.Equal(RowChangeKind.Insert, insert.Kind);
        Seq(["42", null, ""], insert.NewValues);
        Assert.Null(insert.OldValues);

        var update = Assert.IsType<RowEvent>(PgOutputParser.Parse(new Message('U').Int32(7).Byte('N').Int16(2).Text("1").Byte('u').Bytes));
        Seq(["1", null], update.NewValues);
        Assert.Equal([false, true], update.Unchanged!);
        Assert.Null(update.OldValues);

        var keyChange = Assert.IsType<RowEvent>(PgOutputParser.Parse(new Message('U').Int32(7).Byte('K').Int16(2).Text("1").Byte('n').Byte('N').Int16(2).Text("2").Text("b").Bytes));
        Seq(["1", null], keyChange.OldValues);
        Assert.False(keyChange.OldIsFullRow);
        Seq(["2", "b"], keyChange.NewValues);

        var fullOld = Assert.IsType<RowEvent>(PgOutputParser.Parse(new Message('U').Int32(7).Byte('O').Int16(1).Text("a").Byte('N').Int16(1).Text("b").Bytes));
        Assert.True(fullOld.OldIsFullRow);

        var delete = Assert.IsType<RowEvent>(PgOutputParser.Parse(new Message('D').Int32(9).Byte('O').Int16(1).Text("x").Bytes));
        Assert.Equal((RowChangeKind.Delete, 9u, true), (delete.Kind, delete.RelationId, delete.OldIsFullRow));
        Seq(["x"], delete.OldValues);
        Assert.Null(delete.NewValues);
    }

    [Fact]
    public void BinaryValuesKeepTheirBytesBesideTextNullAndUnchangedValues()
    {
        // A binary stream (pgoutput's binary option) sends 'b' for types with a send function and 't' for the rest.
        var insert = Assert.IsType<RowEvent>(PgOutputParser.Parse(new Message('I').Int32(7).Byte('N').Int16(4)
            .Binary(0, 0, 0, 42).Byte('n').Text("postgres=r/postgres").Binary().Bytes));
        var values = insert.NewValues!;
        Assert.True(values[0].IsBinary);
        Assert.Equal(new byte[] { 0, 0, 0, 42 }, values[0].Binary);
        Assert.True(values[1].IsNull);
        Assert.Equal("postgres=r/postgres", values[2].Text);
        Assert.False(values[2].IsBinary);
        // An empty binary value (an empty text, say) is a value, not NULL.
        Assert.True(values[3].IsBinary);
        Assert.Empty(values[3].Binary!);

        var update = Assert.IsType<RowEvent>(PgOutputParser.Parse(new Message('U').Int32(7).Byte('K').Int16(1).Binary(0, 0, 0, 1).Byte('N').Int16(2).Binary(0, 0, 0, 2).Byte('u').Bytes));
        Assert.Equal(new byte[] { 0, 0, 0, 1 }, update.OldValues![0].Binary);
        Assert.Equal(new byte[] { 0, 0, 0, 2 }, update.NewValues![0].Binary);
        Assert.Equal([false, true], update.Unchanged!);
        Assert.NotEqual(update.OldValues[0], update.NewValues[0]);
        Assert.Equal(update.OldValues[0], ColumnValue.FromBinary([0, 0, 0, 1]));
        Assert.NotEqual(ColumnValue.FromBinary([0x31]), ColumnValue.FromText("1"));
    }

    [Theory]
    [InlineData(23u, "0000002a", "42")]
    [InlineData(20u, "fffffffffffffffe", "-2")]
    [InlineData(16u, "01", "t")]
    [InlineData(25u, "c3bc6e69", "üni")]
    [InlineData(2950u, "a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")]
    [InlineData(1082u, "00000000", "2000-01-01")]
    [InlineData(1184u, "000000000000000a", "2000-01-01 00:00:00.00001+00")]
    [InlineData(1700u, "000200000000000400010d80", "1.3456")]
    [InlineData(1700u, "0001ffff40000004000c", "-0.0012")]
    [InlineData(1700u, "00000000c0000000", "NaN")]
    [InlineData(3802u, "017b7d", "{}")]
    [InlineData(600u, "0102", @"\x0102 (binary, type 600)")]
    [InlineData(23u, "01", @"\x01 (binary, type 23)")]
    public void BinaryValuesReadAsTextInMessages(uint type, string hex, string expected) =>
        Assert.Equal(expected, ColumnValue.FromBinary(Convert.FromHexString(hex)).WithType(type).ToString());

    [Fact]
    public void TruncateOriginAndMessagesAreRead()
    {
        var truncate = Assert.IsType<TruncateEvent>(PgOutputParser.Parse(new Message('T').Int32(2).Byte(3).Int32(5).Int32(6).Bytes));
        Assert.Equal([5u, 6u], truncate.RelationIds);
        Assert.True(truncate.Cascade && truncate.RestartIdentity);
        Assert.False(Assert.IsType<TruncateEvent>(PgOutputParser.Parse(new Message('T').Int32(1).Byte(0).Int32(5).Bytes)).Cascade);

        Assert.Equal("upstream", Assert.IsType<OriginEvent>(PgOutputParser.Parse(new Message('O').Int64(1).String("upstream").Bytes)).Name);

        var payload = Encoding.UTF8.GetBytes("2026-11-22T05:00:00Z");
        var message = new Message('M').Byte(0).Int64(0x99).String("sync:t");
        message.Int32(payload.Length);
        foreach (var b in payload) message.Byte(b);
        var heartbeat = Assert.IsType<HeartbeatEvent>(PgOutputParser.Parse(message.Bytes));
        Assert.Equal((new SyncLsn(0x99), "sync:t", "2026-11-22T05:00:00Z"), (heartbeat.Lsn, heartbeat.Prefix, heartbeat.Payload));

        Assert.Null(PgOutputParser.Parse(new Message('Y').Int32(1).String("public").String("mood").Bytes));
    }

    [Fact]
    public void AnotherToolsMessageThatIsNotUtf8DoesNotStopTheStream()
    {
        var message = new Message('M').Byte(0).Int64(0x42).String("app");
        message.Int32(3).Byte(0xff).Byte(0xfe).Byte(0x41);
        var parsed = Assert.IsType<HeartbeatEvent>(PgOutputParser.Parse(message.Bytes));
        Assert.Equal("app", parsed.Prefix);
        Assert.EndsWith("A", parsed.Payload);
        // Row values stay strict: text that is not UTF-8 is refused rather than altered.
        Assert.Throws<DecoderFallbackException>(() => PgOutputParser.Parse(new Message('I').Int32(7).Byte('N').Int16(1).Byte('t').Int32(1).Byte(0xff).Bytes));
    }

    [Fact]
    public void MalformedMessagesAreRefusedNotMisread()
    {
        Assert.Contains("ended early", Assert.Throws<FormatException>(() => PgOutputParser.Parse(new Message('I').Int32(7).Byte('N').Int16(1).Byte('t').Int32(10).Bytes)).Message);
        Assert.Contains("'S'", Assert.Throws<FormatException>(() => PgOutputParser.Parse(new Message('S').Int32(1).Bytes)).Message);
        Assert.Contains("'z'", Assert.Throws<FormatException>(() => PgOutputParser.Parse(new Message('I').Int32(7).Byte('N').Int16(1).Byte('z').Int32(0).Bytes)).Message);
        Assert.Contains("ended early", Assert.Throws<FormatException>(() => PgOutputParser.Parse(new Message('I').Int32(7).Byte('N').Int16(1).Byte('b').Int32(5).Byte(1).Bytes)).Message);
        Assert.Contains("terminator", Assert.Throws<FormatException>(() => PgOutputParser.Parse(new Message('O').Int64(1).Byte('x').Bytes)).Message);
    }
}
