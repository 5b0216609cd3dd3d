namespace Sync.Engine.Schema;

/// <summary>The DDL of a task in the order it runs (DESIGN.md, "Schema"; the dependency order).</summary>
public sealed record SchemaPlan
{
    /// <summary>Schemas and extensions.</summary>
    public IReadOnlyList<DdlStep> Namespaces { get; init; } = [];
    /// <summary>Types and functions: created in rounds until their dependencies resolve.</summary>
    public IReadOnlyList<DdlStep> Types { get; init; } = [];
    public IReadOnlyList<DdlStep> Functions { get; init; } = [];
    public IReadOnlyList<DdlStep> Sequences { get; init; } = [];
    /// <summary>Tables (partitioned parents before their partitions), then sequence ownership.</summary>
    public IReadOnlyList<DdlStep> Tables { get; init; } = [];
    /// <summary>Primary keys, unique, check and exclusion constraints and indexes: run in parallel after the data.</summary>
    public IReadOnlyList<DdlStep> Indexes { get; init; } = [];
    public IReadOnlyList<DdlStep> ForeignKeys { get; init; } = [];
    /// <summary>Views and materialized views (and their indexes), in rounds until dependencies resolve.</summary>
    public IReadOnlyList<DdlStep> Views { get; init; } = [];
    public IReadOnlyList<DdlStep> Triggers { get; init; } = [];
    /// <summary>What was left out and why (foreign keys to tables outside the task, ...).</summary>
    public IReadOnlyList<string> Skipped { get; init; } = [];
}
