namespace Sync.Engine.Snapshot;

/// <summary>
/// Splits large tables into ctid block ranges so that one big table keeps every copy worker busy. Ranges need TID
/// range scans (PostgreSQL 14+) to be efficient; older servers copy each table whole.
/// </summary>
public static class CopyRangePlanner
{
    public static IReadOnlyList<CopyRange> Plan(long tableBytes, int blockSize, long splitBytes, int workers, int serverVersion)
    {
        if (serverVersion < 14 || tableBytes <= splitBytes || blockSize <= 0) return [new CopyRange(0, null, null)];
        var blocks = Math.Max(1, tableBytes / blockSize);
        var count = (int)Math.Min(Math.Max(workers, (tableBytes + splitBytes - 1) / splitBytes), Math.Min(blocks, 1024));
        var step = (blocks + count - 1) / count;
        var ranges = new List<CopyRange>();
        for (var i = 0; i < count; i++)
        {
            long? first = i == 0 ? null : i * step;
            long? end = i == count - 1 ? null : (i + 1) * step;
            ranges.Add(new CopyRange(i, first, end));
        }
        return ranges;
    }

}
