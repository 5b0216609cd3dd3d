using Sync.Engine.Schema;

namespace Sync.Engine.Snapshot;

/// <summary>One unit of copy work: a range of a table, and whether rows go through a staging table (the destination table existed before the task).</summary>
public sealed record CopyJob(ScopedTable Table, CopyRange Range, bool Staging, int RangeCount);
