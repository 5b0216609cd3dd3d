namespace Sync.Engine.Diagnostics;

/// <summary>
/// Stable error identifiers. They become the first part of every FullyQualifiedErrorId the cmdlets write,
/// so scripts match on them: a public contract. Add new ones; never rename or reuse one.
/// </summary>
public static class ErrorIds
{
    public const string SyncTaskNotFound = nameof(SyncTaskNotFound);
    public const string SyncTaskAlreadyExists = nameof(SyncTaskAlreadyExists);
    public const string SyncTaskAlreadyRunning = nameof(SyncTaskAlreadyRunning);
    public const string SyncTaskNotRunning = nameof(SyncTaskNotRunning);
    public const string SyncTaskInvalidState = nameof(SyncTaskInvalidState);
    public const string SyncTaskLocked = nameof(SyncTaskLocked);
    public const string TaskDefinitionInvalid = nameof(TaskDefinitionInvalid);
    public const string EndpointInvalid = nameof(EndpointInvalid);
    public const string StoreFileCorrupt = nameof(StoreFileCorrupt);
    public const string StoreFileUnreadable = nameof(StoreFileUnreadable);
    public const string StoreSchemaTooNew = nameof(StoreSchemaTooNew);
    public const string StoreKeyUnavailable = nameof(StoreKeyUnavailable);
    public const string SecretDecryptionFailed = nameof(SecretDecryptionFailed);
    public const string SourceConnectionFailed = nameof(SourceConnectionFailed);
    public const string DestinationConnectionFailed = nameof(DestinationConnectionFailed);
    public const string AuthenticationFailed = nameof(AuthenticationFailed);
    public const string PermissionDenied = nameof(PermissionDenied);
    public const string DatabaseObjectNotFound = nameof(DatabaseObjectNotFound);
    public const string PrecheckFailed = nameof(PrecheckFailed);
    public const string ReplicationSlotMissing = nameof(ReplicationSlotMissing);
    public const string StreamOutOfStep = nameof(StreamOutOfStep);
    public const string CheckpointAheadOfSource = nameof(CheckpointAheadOfSource);
    public const string SpoolWriteFailed = nameof(SpoolWriteFailed);
    public const string CheckpointCorrupt = nameof(CheckpointCorrupt);
    public const string ApplyConflict = nameof(ApplyConflict);
    public const string ApplyFailed = nameof(ApplyFailed);
    public const string DestinationTableExists = nameof(DestinationTableExists);
    public const string SchemaMigrationFailed = nameof(SchemaMigrationFailed);
    public const string CopyFailed = nameof(CopyFailed);
    public const string CompareFailed = nameof(CompareFailed);
    public const string WorkerStartFailed = nameof(WorkerStartFailed);
    public const string WaitTimedOut = nameof(WaitTimedOut);
    public const string OperationCancelled = nameof(OperationCancelled);
    public const string ServerError = nameof(ServerError);
    public const string InternalError = nameof(InternalError);

    /// <summary>Every id above, for the contract test.</summary>
    public static IReadOnlyList<string> All { get; } = typeof(ErrorIds)
        .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(f => f.IsLiteral)
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToArray();
}
