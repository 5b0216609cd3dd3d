namespace Sync.Engine.Store;

/// <summary>The store's own document (store.json): its layout version and when it was made.</summary>
public sealed record StoreInfo
{
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    public DateTimeOffset CreatedAt { get; init; }
}
