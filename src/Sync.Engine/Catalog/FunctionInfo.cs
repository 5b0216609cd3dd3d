namespace Sync.Engine.Catalog;

/// <summary>A function or procedure (pg_get_functiondef text), synchronized by database-level tasks.</summary>
public sealed record FunctionInfo(QualifiedName Name, string Signature, string Definition);
