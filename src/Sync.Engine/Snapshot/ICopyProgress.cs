namespace Sync.Engine.Snapshot;

/// <summary>Receives copy progress from the workers (on their threads).</summary>
public interface ICopyProgress
{
    void RangeStarted(CopyJob job);
    void Transferred(CopyJob job, long bytes, long rows);
    void RangeCommitted(CopyJob job, long rows, long bytes);
}
