namespace Sync.Engine.Snapshot;

/// <summary>
/// Counts rows in a PostgreSQL binary COPY stream as it passes, without buffering it: the stream is a header
/// (11-byte signature, flags, extension area), then tuples (int16 field count, then per field an int32 length and
/// that many bytes, -1 for NULL), then the trailer (field count -1). Fed chunk by chunk; state survives chunk edges.
/// </summary>
public sealed class BinaryCopyScanner
{
    private enum Part { Signature, Flags, ExtensionLength, Extension, FieldCount, FieldLength, FieldData, Done }

    private Part _part = Part.Signature;
    private long _remaining = 11;
    private int _fieldsLeft;
    private uint _accumulator;
    private int _accumulated;

    public long Rows { get; private set; }
    public bool Finished => _part == Part.Done;

    public void Feed(ReadOnlySpan<byte> data)
    {
        var i = 0;
        while (i < data.Length && _part != Part.Done)
        {
            switch (_part)
            {
                case Part.Signature:
                case Part.Extension:
                case Part.FieldData:
                {
                    var take = (int)Math.Min(_remaining, data.Length - i);
                    i += take;
                    _remaining -= take;
                    if (_remaining == 0) Advance();
                    break;
                }
                default:
                    _accumulator = (_accumulator << 8) | data[i++];
                    _accumulated++;
                    var size = _part == Part.FieldCount ? 2 : 4;
                    if (_accumulated == size)
                    {
                        var value = size == 2 ? (int)(short)(ushort)_accumulator : (int)_accumulator;
                        _accumulator = 0;
                        _accumulated = 0;
                        Take(value);
                    }
                    break;
            }
        }
    }

    private void Advance()
    {
        switch (_part)
        {
            case Part.Signature: _part = Part.Flags; break;
            case Part.Extension: _part = Part.FieldCount; break;
            case Part.FieldData: NextField(); break;
        }
    }

    private void Take(int value)
    {
        switch (_part)
        {
            case Part.Flags: _part = Part.ExtensionLength; break;
            case Part.ExtensionLength:
                _remaining = value;
                _part = value > 0 ? Part.Extension : Part.FieldCount;
                break;
            case Part.FieldCount:
                if (value == -1) { _part = Part.Done; break; }
                Rows++;
                _fieldsLeft = value;
                _part = value > 0 ? Part.FieldLength : Part.FieldCount;
                break;
            case Part.FieldLength:
                if (value <= 0) NextField();
                else { _remaining = value; _part = Part.FieldData; }
                break;
        }
    }

    private void NextField()
    {
        _fieldsLeft--;
        _part = _fieldsLeft > 0 ? Part.FieldLength : Part.FieldCount;
    }
}
