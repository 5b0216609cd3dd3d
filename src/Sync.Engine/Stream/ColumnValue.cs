using System.Text;

namespace Sync.Engine.Stream;

/// <summary>
/// One column value as pgoutput sent it: SQL NULL, text (the type's output form), or binary (the type's send form,
/// in a stream started with pgoutput's binary option). A binary value is sent to the destination as a typed parameter
/// (<see cref="TypeOid"/>, set when the applier binds it to a column), a text value as an untyped one that the
/// statement casts.
/// </summary>
public readonly struct ColumnValue : IEquatable<ColumnValue>
{
    private readonly object? _value;

    private ColumnValue(object? value, uint typeOid)
    {
        _value = value;
        TypeOid = typeOid;
    }

    public static ColumnValue Null => default;

    public static ColumnValue FromText(string? text) => new(text, 0);

    public static ColumnValue FromBinary(byte[] bytes) => new(bytes ?? throw new ArgumentNullException(nameof(bytes)), 0);

    /// <summary>Text values read like the strings they are (tests and the text paths build rows from strings).</summary>
    public static implicit operator ColumnValue(string? text) => FromText(text);

    public bool IsNull => _value is null;
    public bool IsBinary => _value is byte[];
    /// <summary>The text form, or null for NULL and for binary values.</summary>
    public string? Text => _value as string;
    /// <summary>The send form, or null for NULL and for text values.</summary>
    public byte[]? Binary => _value as byte[];

    /// <summary>For a binary value: the type the destination reads it as (0 until bound to a column).</summary>
    public uint TypeOid { get; }

    /// <summary>The same value, to be read as <paramref name="typeOid"/> (binary values only; text and NULL stay as they are).</summary>
    public ColumnValue WithType(uint typeOid) => _value is byte[] ? new ColumnValue(_value, typeOid) : this;

    /// <summary>
    /// Appends a form that is equal for equal values and that cannot run into the next value's: NULL as a NUL (which no
    /// text value contains), text as its length, a colon and the text, binary as 0x01, its length, a colon and the
    /// bytes in hex. So a row identity made of several values (<see cref="Apply.StatementBuilder.Key"/>) reads back one
    /// way only, whatever characters the values hold.
    /// </summary>
    public void AppendIdentity(StringBuilder sb)
    {
        switch (_value)
        {
            case null: sb.Append('\u0000'); break;
            case string text: sb.Append(text.Length).Append(':').Append(text); break;
            case byte[] bytes: sb.Append('\u0001').Append(bytes.Length).Append(':').Append(Convert.ToHexString(bytes)); break;
        }
    }

    public bool Equals(ColumnValue other) => (_value, other._value) switch
    {
        (null, null) => true,
        (string a, string b) => string.Equals(a, b, StringComparison.Ordinal),
        (byte[] a, byte[] b) => a.AsSpan().SequenceEqual(b),
        _ => false,
    };

    public override bool Equals(object? obj) => obj is ColumnValue other && Equals(other);

    public override int GetHashCode() => _value switch
    {
        null => 0,
        string text => StringComparer.Ordinal.GetHashCode(text),
        byte[] bytes => BytesHash(bytes),
        _ => 0,
    };

    private static int BytesHash(byte[] bytes)
    {
        var hash = new HashCode();
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }

    public static bool operator ==(ColumnValue left, ColumnValue right) => left.Equals(right);
    public static bool operator !=(ColumnValue left, ColumnValue right) => !left.Equals(right);

    /// <summary>For messages: the text, "NULL", or the binary form described by <see cref="BinaryText"/>.</summary>
    public override string ToString() => _value switch
    {
        null => "NULL",
        string text => text,
        byte[] bytes => BinaryText.Describe(TypeOid, bytes),
        _ => "",
    };
}
