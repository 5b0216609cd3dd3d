namespace Sync.Engine.Schema;

/// <summary>One DDL statement of a schema migration, with what it creates (for progress, errors and -WhatIf).</summary>
public sealed record DdlStep(string Kind, string Object, string Sql)
{
    /// <summary>The destination table the step belongs to, for steps that run after its data (constraints, indexes).</summary>
    public Catalog.QualifiedName? Table { get; init; }

    public override string ToString() => $"{Kind} {Object}";
}
