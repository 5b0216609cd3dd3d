using Sync.Engine.Compare;

namespace Sync;

/// <summary>The comparison of one table by Compare-SyncTask.</summary>
public sealed class TableComparison
{
    internal TableComparison(string taskName, TableComparisonResult result, string? sourceLsn, bool streaming)
    {
        TaskName = taskName;
        Table = result.SourceTable;
        DestinationTable = result.DestinationTable;
        Level = result.Level;
        Result = result.Result;
        SourceRows = result.SourceRows;
        DestinationRows = result.DestinationRows;
        Differences = result.MissingRows + result.ExtraRows + result.ChangedRows;
        MissingRows = result.MissingRows;
        ExtraRows = result.ExtraRows;
        ChangedRows = result.ChangedRows;
        RowsRead = result.RowsRead;
        DifferingBuckets = result.DifferingBuckets;
        Buckets = result.Buckets;
        Samples = result.Samples.Select(s => new RowDifferenceSample(s.Kind, s.Key, s.SourceRow, s.DestinationRow)).ToArray();
        Error = result.Error;
        Duration = result.Duration;
        ValidForSourceLsn = SyncLsn.TryParse(sourceLsn, out var lsn) ? lsn : null;
        TaskWasStreaming = streaming;
    }

    public string TaskName { get; }
    public string Table { get; }
    public string DestinationTable { get; }
    public ComparisonLevel Level { get; }
    public ComparisonResult Result { get; }
    public long SourceRows { get; }
    public long DestinationRows { get; }
    /// <summary>Missing + extra + changed rows (Row level).</summary>
    public long Differences { get; }
    public long MissingRows { get; }
    public long ExtraRows { get; }
    public long ChangedRows { get; }
    /// <summary>Rows fetched from both servers for the row-by-row comparison (only those of differing buckets).</summary>
    public long RowsRead { get; }
    public int DifferingBuckets { get; }
    public int Buckets { get; }
    public IReadOnlyList<RowDifferenceSample> Samples { get; }
    public string? Error { get; }
    public TimeSpan Duration { get; }
    /// <summary>The source's WAL position when the comparison started.</summary>
    public SyncLsn? ValidForSourceLsn { get; }
    /// <summary>The task was streaming: rows written during the comparison may show as differences.</summary>
    public bool TaskWasStreaming { get; }

    public override string ToString() => $"{Table}: {Result}";
}
