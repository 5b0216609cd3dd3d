// The driver's type-resolver API is marked experimental; it is the only way to send a value's binary form as a
// parameter of a type chosen per value. It is used for the stream's binary values only (StreamFormat).
#pragma warning disable NPG9001
using Npgsql;
using Npgsql.Internal;
using Npgsql.Internal.Postgres;
using NpgsqlTypes;
using Sync.Engine.Stream;

namespace Sync.Engine.Apply;

/// <summary>
/// Statement parameters for stream values. A text value (or NULL) goes untyped and the statement's cast reads it, as
/// always. A binary value goes as it came, typed by the OID its column binds it to (<see cref="ApplyTable.Bind"/>); a
/// column of binary values in a set-wise statement goes as one array of that type, built from the values' bytes. Only
/// sessions opened from <see cref="DataSource"/> can send them.
/// </summary>
public static class BinaryParameters
{
    /// <summary>A data source whose sessions can send binary stream values (<see cref="For(ColumnValue)"/>).</summary>
    public static NpgsqlDataSource DataSource(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.AddTypeInfoResolverFactory(new ResolverFactory());
        return builder.Build();
    }

    /// <summary>The parameter for one bound value.</summary>
    public static NpgsqlParameter For(ColumnValue value)
    {
        if (value.Binary is { } bytes)
            return new NpgsqlParameter<BinaryValue> { TypedValue = new BinaryValue(RequireType(value), bytes) };
        return new NpgsqlParameter { Value = (object?)value.Text ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Unknown };
    }

    /// <summary>
    /// Whether a set-wise column of these values travels as an array of binary values (every non-null value binary) or
    /// as text[] (every non-null value text). The stream sends one format per column, so no column mixes them.
    /// </summary>
    public static bool IsBinaryColumn(IEnumerable<ColumnValue> values)
    {
        bool? binary = null;
        foreach (var value in values)
        {
            if (value.IsNull) continue;
            if (binary is { } seen && seen != value.IsBinary)
                throw new InvalidOperationException("A set-wise column mixes text and binary values; the stream sends one format per column.");
            binary = value.IsBinary;
        }
        return binary ?? false;
    }

    /// <summary>
    /// The array parameter for a column of binary values (see <see cref="IsBinaryColumn"/>), typed as an array of their
    /// type: <paramref name="arrayOid"/>, or where it is 0 (a built-in type) the array type the driver knows for it.
    /// </summary>
    public static NpgsqlParameter Array(IReadOnlyList<ColumnValue> values, uint arrayOid = 0)
    {
        var type = values.First(v => !v.IsNull).TypeOid;
        foreach (var value in values)
            if (!value.IsNull && RequireType(value) != type)
                throw new InvalidOperationException($"A set-wise column mixes binary values of types {type} and {value.TypeOid}.");
        return new NpgsqlParameter<BinaryArray> { TypedValue = new BinaryArray(type, arrayOid, values) };
    }

    private static uint RequireType(ColumnValue value) => value.TypeOid != 0 ? value.TypeOid
        : throw new InvalidOperationException("A binary stream value was sent before it was bound to its column's type (ApplyTable.Bind).");

    /// <summary>A value's binary form and the OID of the type it is.</summary>
    public readonly record struct BinaryValue(uint TypeOid, byte[] Bytes);

    /// <summary>A one-dimensional array of binary values of one type (NULLs allowed), in the array send form; its type is <paramref name="ArrayOid"/> where that is not 0.</summary>
    public sealed record BinaryArray(uint ElementOid, uint ArrayOid, IReadOnlyList<ColumnValue> Elements);

    private sealed class ResolverFactory : PgTypeInfoResolverFactory
    {
        public override IPgTypeInfoResolver CreateResolver() => new Resolver();
        public override IPgTypeInfoResolver? CreateArrayResolver() => null;
    }

    private sealed class Resolver : IPgTypeInfoResolver
    {
        private readonly ValueConverter _value = new();
        private readonly ArrayConverter _array = new();

        public PgTypeInfo? GetTypeInfo(Type? type, DataTypeName? dataTypeName, PgSerializerOptions options)
        {
            if (type == typeof(BinaryValue)) return new PgResolverTypeInfo(options, new ValueResolver(_value), null);
            if (type == typeof(BinaryArray)) return new PgResolverTypeInfo(options, new ArrayResolver(_array, options), null);
            return null;
        }
    }

    /// <summary>Each value names its own type, so the type is resolved per value.</summary>
    private sealed class ValueResolver(ValueConverter converter) : PgConverterResolver<BinaryValue>
    {
        public override PgConverterResolution GetDefault(PgTypeId? expected) =>
            expected is { } id ? new PgConverterResolution(converter, id)
                : throw new NotSupportedException("A binary stream value needs its value to know its type.");

        public override PgConverterResolution? Get(BinaryValue value, PgTypeId? expected) => new PgConverterResolution(converter, new PgTypeId(new Oid(value.TypeOid)));
    }

    private sealed class ArrayResolver(ArrayConverter converter, PgSerializerOptions options) : PgConverterResolver<BinaryArray>
    {
        public override PgConverterResolution GetDefault(PgTypeId? expected) =>
            expected is { } id ? new PgConverterResolution(converter, id)
                : throw new NotSupportedException("An array of binary stream values needs its value to know its type.");

        public override PgConverterResolution? Get(BinaryArray? value, PgTypeId? expected) =>
            new PgConverterResolution(converter, value!.ArrayOid != 0 ? new PgTypeId(new Oid(value.ArrayOid)) : options.GetArrayTypeId(new PgTypeId(new Oid(value.ElementOid))));
    }

    private sealed class ValueConverter() : PgStreamingConverter<BinaryValue>(customDbNullPredicate: false)
    {
        public override bool CanConvert(DataFormat format, out BufferRequirements bufferRequirements)
        {
            bufferRequirements = BufferRequirements.None;
            return format == DataFormat.Binary;
        }

        public override Size GetSize(SizeContext context, BinaryValue value, ref object? writeState) => value.Bytes.Length;

        public override void Write(PgWriter writer, BinaryValue value) => writer.WriteBytes(value.Bytes);

        public override ValueTask WriteAsync(PgWriter writer, BinaryValue value, CancellationToken cancellationToken = default) =>
            writer.WriteBytesAsync(value.Bytes, cancellationToken);

        public override BinaryValue Read(PgReader reader) => throw new NotSupportedException("Binary stream values are only written.");

        public override ValueTask<BinaryValue> ReadAsync(PgReader reader, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("Binary stream values are only written.");
    }

    /// <summary>array_send's layout: dimensions, a has-nulls flag, the element type, each dimension's length and lower bound, then the elements.</summary>
    private sealed class ArrayConverter() : PgStreamingConverter<BinaryArray>(customDbNullPredicate: false)
    {
        private const int HeaderSize = 4 + 4 + 4 + 4 + 4;

        public override bool CanConvert(DataFormat format, out BufferRequirements bufferRequirements)
        {
            bufferRequirements = BufferRequirements.None;
            return format == DataFormat.Binary;
        }

        public override Size GetSize(SizeContext context, BinaryArray value, ref object? writeState)
        {
            var size = HeaderSize;
            foreach (var element in value.Elements) size += 4 + (element.Binary?.Length ?? 0);
            return size;
        }

        public override void Write(PgWriter writer, BinaryArray value) => WriteAsync(writer, value, async: false, CancellationToken.None).GetAwaiter().GetResult();

        public override ValueTask WriteAsync(PgWriter writer, BinaryArray value, CancellationToken cancellationToken = default) =>
            WriteAsync(writer, value, async: true, cancellationToken);

        private static async ValueTask WriteAsync(PgWriter writer, BinaryArray value, bool async, CancellationToken ct)
        {
            if (writer.ShouldFlush(HeaderSize)) await Flush(writer, async, ct).ConfigureAwait(false);
            writer.WriteInt32(1);
            writer.WriteInt32(value.Elements.Any(e => e.IsNull) ? 1 : 0);
            writer.WriteUInt32(value.ElementOid);
            writer.WriteInt32(value.Elements.Count);
            writer.WriteInt32(1);
            foreach (var element in value.Elements)
            {
                if (writer.ShouldFlush(4)) await Flush(writer, async, ct).ConfigureAwait(false);
                if (element.Binary is not { } bytes)
                {
                    writer.WriteInt32(-1);
                    continue;
                }
                writer.WriteInt32(bytes.Length);
                if (async) await writer.WriteBytesAsync(bytes, ct).ConfigureAwait(false);
                else writer.WriteBytes(bytes);
            }
        }

        private static ValueTask Flush(PgWriter writer, bool async, CancellationToken ct)
        {
            if (async) return writer.FlushAsync(ct);
            writer.Flush();
            return ValueTask.CompletedTask;
        }

        public override BinaryArray Read(PgReader reader) => throw new NotSupportedException("Binary stream values are only written.");

        public override ValueTask<BinaryArray> ReadAsync(PgReader reader, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("Binary stream values are only written.");
    }
}
