namespace Sync;

/// <summary>What a running task is doing.</summary>
public enum SyncTaskStage
{
    None,
    Precheck,
    SchemaMigration,
    FullInitialization,
    PostDataMigration,
    RealtimeSync,
}
