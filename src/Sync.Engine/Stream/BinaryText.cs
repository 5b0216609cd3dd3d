using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Sync.Engine.Stream;

/// <summary>
/// Readable text for a binary column value in events and errors (a conflicting key, a row image). Keys are mostly
/// integers, text and uuids, so those (and a few other common types) read as they would in psql; any other type reads as
/// its send form in hex with the type's OID. Nothing here is sent to a server: values travel in the form they came in.
/// </summary>
public static class BinaryText
{
    private static readonly DateTime PostgresEpoch = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static string Describe(uint typeOid, byte[] bytes)
    {
        try
        {
            switch (typeOid)
            {
                case 16 when bytes.Length == 1: return bytes[0] != 0 ? "t" : "f";
                case 20 when bytes.Length == 8: return BinaryPrimitives.ReadInt64BigEndian(bytes).ToString(CultureInfo.InvariantCulture);
                case 21 when bytes.Length == 2: return BinaryPrimitives.ReadInt16BigEndian(bytes).ToString(CultureInfo.InvariantCulture);
                case 23 when bytes.Length == 4: return BinaryPrimitives.ReadInt32BigEndian(bytes).ToString(CultureInfo.InvariantCulture);
                case 26 when bytes.Length == 4: return BinaryPrimitives.ReadUInt32BigEndian(bytes).ToString(CultureInfo.InvariantCulture);
                case 700 when bytes.Length == 4: return BinaryPrimitives.ReadSingleBigEndian(bytes).ToString("R", CultureInfo.InvariantCulture);
                case 701 when bytes.Length == 8: return BinaryPrimitives.ReadDoubleBigEndian(bytes).ToString("R", CultureInfo.InvariantCulture);
                // text, name, bpchar, varchar, json, xml: the characters themselves; jsonb: a version byte first.
                case 18 or 19 or 25 or 1042 or 1043 or 114 or 142: return Encoding.UTF8.GetString(bytes);
                case 3802 when bytes.Length > 0 && bytes[0] == 1: return Encoding.UTF8.GetString(bytes, 1, bytes.Length - 1);
                case 2950 when bytes.Length == 16: return new Guid(bytes, bigEndian: true).ToString();
                case 1082 when bytes.Length == 4: return Date(BinaryPrimitives.ReadInt32BigEndian(bytes));
                case 1114 when bytes.Length == 8: return Timestamp(BinaryPrimitives.ReadInt64BigEndian(bytes), "");
                case 1184 when bytes.Length == 8: return Timestamp(BinaryPrimitives.ReadInt64BigEndian(bytes), "+00");
                case 1700: return Numeric(bytes) ?? Hex(typeOid, bytes);
            }
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            // Not what the type's send form should be: show the bytes.
        }
        return Hex(typeOid, bytes);
    }

    private static string Hex(uint typeOid, byte[] bytes) => $"\\x{Convert.ToHexString(bytes).ToLowerInvariant()} (binary, type {typeOid})";

    private static string Date(int days) => days switch
    {
        int.MaxValue => "infinity",
        int.MinValue => "-infinity",
        _ => DateOnly.FromDateTime(PostgresEpoch.AddDays(days)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
    };

    private static string Timestamp(long micros, string zone)
    {
        if (micros == long.MaxValue) return "infinity";
        if (micros == long.MinValue) return "-infinity";
        var at = PostgresEpoch.AddTicks(checked(micros * 10));
        var text = at.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        var fraction = at.Ticks % TimeSpan.TicksPerSecond / 10;
        if (fraction != 0) text += "." + fraction.ToString("D6", CultureInfo.InvariantCulture).TrimEnd('0');
        return text + zone;
    }

    /// <summary>numeric's send form: digit count, weight, sign, display scale, then base-10000 digits.</summary>
    private static string? Numeric(byte[] bytes)
    {
        if (bytes.Length < 8) return null;
        var count = BinaryPrimitives.ReadInt16BigEndian(bytes);
        var weight = BinaryPrimitives.ReadInt16BigEndian(bytes.AsSpan(2));
        var sign = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(4));
        var scale = BinaryPrimitives.ReadInt16BigEndian(bytes.AsSpan(6));
        if (bytes.Length != 8 + 2 * count) return null;
        switch (sign)
        {
            case 0xC000: return "NaN";
            case 0xD000: return "Infinity";
            case 0xF000: return "-Infinity";
            case not (0x0000 or 0x4000): return null;
        }
        var digits = new short[count];
        for (var i = 0; i < count; i++) digits[i] = BinaryPrimitives.ReadInt16BigEndian(bytes.AsSpan(8 + 2 * i));
        var sb = new StringBuilder();
        if (sign == 0x4000) sb.Append('-');
        // The integer part: groups weight..0.
        if (weight < 0) sb.Append('0');
        for (var w = 0; w <= weight; w++)
        {
            var d = w < count ? digits[w] : (short)0;
            sb.Append(w == 0 ? d.ToString(CultureInfo.InvariantCulture) : d.ToString("D4", CultureInfo.InvariantCulture));
        }
        if (scale > 0)
        {
            var fraction = new StringBuilder();
            for (var g = weight + 1; fraction.Length < scale; g++)
            {
                var d = g >= 0 && g < count ? digits[g] : (short)0;
                fraction.Append(d.ToString("D4", CultureInfo.InvariantCulture));
            }
            sb.Append('.').Append(fraction.ToString(0, scale));
        }
        return sb.ToString();
    }
}
