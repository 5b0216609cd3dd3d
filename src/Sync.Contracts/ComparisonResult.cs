namespace Sync;

/// <summary>The verdict for one table.</summary>
public enum ComparisonResult
{
    Equal,
    Different,
    MissingOnDestination,
    Error,
}
