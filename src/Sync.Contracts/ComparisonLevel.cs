namespace Sync;

/// <summary>How deeply Compare-SyncTask looks.</summary>
public enum ComparisonLevel
{
    /// <summary>Row counts per table.</summary>
    RowCount,
    /// <summary>Counts and checksums per hash bucket; differing buckets are reported.</summary>
    Checksum,
    /// <summary>Checksums, then the rows of differing buckets: missing, extra and different rows by key.</summary>
    Row,
}
