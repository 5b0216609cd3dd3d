namespace Sync.Engine.Diagnostics;

/// <summary>
/// The engine's view of PowerShell's ErrorCategory. Member names equal ErrorCategory's names so the
/// cmdlet layer converts by name; the engine never references System.Management.Automation.
/// </summary>
public enum SyncErrorCategory
{
    NotSpecified,
    InvalidArgument,
    InvalidData,
    InvalidOperation,
    ObjectNotFound,
    ResourceExists,
    ResourceBusy,
    ResourceUnavailable,
    ConnectionError,
    AuthenticationError,
    PermissionDenied,
    OperationStopped,
    OperationTimeout,
    ReadError,
    WriteError,
    SecurityError,
    NotImplemented,
}
