using System.Globalization;

namespace Sync;

/// <summary>A PostgreSQL WAL position (log sequence number), shown the server's way: <c>0/16B3748</c>.</summary>
public readonly struct SyncLsn : IEquatable<SyncLsn>, IComparable<SyncLsn>, IComparable
{
    public SyncLsn(ulong value) => Value = value;

    public ulong Value { get; }

    public static SyncLsn Invalid => default;

    public bool IsValid => Value != 0;

    public static SyncLsn Parse(string text)
    {
        if (!TryParse(text, out var lsn))
            throw new FormatException($"'{text}' is not a WAL position. Write it as the server shows it, for example 0/16B3748.");
        return lsn;
    }

    public static bool TryParse(string? text, out SyncLsn lsn)
    {
        lsn = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var slash = text.IndexOf('/');
        if (slash <= 0 || slash == text.Length - 1) return false;
        if (!uint.TryParse(text.AsSpan(0, slash), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var high) ||
            !uint.TryParse(text.AsSpan(slash + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var low))
            return false;
        lsn = new SyncLsn(((ulong)high << 32) | low);
        return true;
    }

    /// <summary>Bytes between two positions (zero when <paramref name="other"/> is ahead).</summary>
    public long BytesAfter(SyncLsn other) => Value > other.Value ? (long)(Value - other.Value) : 0;

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{(uint)(Value >> 32):X}/{(uint)Value:X}");

    public bool Equals(SyncLsn other) => Value == other.Value;
    public override bool Equals(object? obj) => obj is SyncLsn other && Equals(other);
    public override int GetHashCode() => Value.GetHashCode();
    public int CompareTo(SyncLsn other) => Value.CompareTo(other.Value);
    public int CompareTo(object? obj) => obj is SyncLsn other ? CompareTo(other) : throw new ArgumentException("Not a SyncLsn.", nameof(obj));
    public static bool operator ==(SyncLsn a, SyncLsn b) => a.Value == b.Value;
    public static bool operator !=(SyncLsn a, SyncLsn b) => a.Value != b.Value;
    public static bool operator <(SyncLsn a, SyncLsn b) => a.Value < b.Value;
    public static bool operator >(SyncLsn a, SyncLsn b) => a.Value > b.Value;
    public static bool operator <=(SyncLsn a, SyncLsn b) => a.Value <= b.Value;
    public static bool operator >=(SyncLsn a, SyncLsn b) => a.Value >= b.Value;
}
