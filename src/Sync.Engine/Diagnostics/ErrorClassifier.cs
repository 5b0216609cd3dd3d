using System.Net.Sockets;
using Npgsql;

namespace Sync.Engine.Diagnostics;

/// <summary>
/// Turns any exception the engine meets into an <see cref="ErrorInfo"/>: one place decides the error id,
/// the category and whether a retry can help.
/// </summary>
public static class ErrorClassifier
{
    public static ErrorInfo Classify(Exception exception, string? target = null)
    {
        switch (exception)
        {
            case SyncException sync:
                return new ErrorInfo(sync.ErrorId, sync.Category, sync.Message, sync.Target ?? target, sync.Retriable);
            case AggregateException { InnerExceptions.Count: 1 } aggregate:
                return Classify(aggregate.InnerExceptions[0], target);
            case OperationCanceledException:
                return new ErrorInfo(ErrorIds.OperationCancelled, SyncErrorCategory.OperationStopped,
                    "The operation was cancelled.", target, false);
            case PostgresException pg:
                return ClassifySqlState(pg.SqlState, Describe(pg), target);
            case NpgsqlException { InnerException: SocketException or IOException or TimeoutException } npgsql:
                return new ErrorInfo(ErrorIds.SourceConnectionFailed, SyncErrorCategory.ConnectionError,
                    npgsql.Message + ": " + npgsql.InnerException!.Message, target, true);
            case NpgsqlException { IsTransient: true } transient:
                return new ErrorInfo(ErrorIds.SourceConnectionFailed, SyncErrorCategory.ConnectionError,
                    transient.Message, target, true);
            case TimeoutException timeout:
                return new ErrorInfo(ErrorIds.WaitTimedOut, SyncErrorCategory.OperationTimeout, timeout.Message, target, true);
            case UnauthorizedAccessException access:
                return new ErrorInfo(ErrorIds.PermissionDenied, SyncErrorCategory.PermissionDenied, access.Message, target, false);
            default:
                return new ErrorInfo(ErrorIds.InternalError, SyncErrorCategory.NotSpecified,
                    exception.GetType().Name + ": " + exception.Message, target, false);
        }
    }

    /// <summary>
    /// SQLSTATE classes: 08 connection (retried), 28 authentication (never retried), 42501 privilege,
    /// 42P01/42704 missing objects, 55006 object in use, 40001/40P01 serialization and deadlock (retried),
    /// 57P01-57P03 server shutting down or starting (retried), 53 insufficient resources (retried).
    /// </summary>
    public static ErrorInfo ClassifySqlState(string sqlState, string message, string? target)
    {
        if (sqlState.StartsWith("08", StringComparison.Ordinal))
            return new(ErrorIds.SourceConnectionFailed, SyncErrorCategory.ConnectionError, message, target, true);
        if (sqlState.StartsWith("28", StringComparison.Ordinal))
            return new(ErrorIds.AuthenticationFailed, SyncErrorCategory.AuthenticationError, message, target, false);
        return sqlState switch
        {
            "42501" => new(ErrorIds.PermissionDenied, SyncErrorCategory.PermissionDenied, message, target, false),
            "42P01" or "42704" or "3D000" or "3F000" => new(ErrorIds.DatabaseObjectNotFound, SyncErrorCategory.ObjectNotFound, message, target, false),
            "55006" => new(ErrorIds.ServerError, SyncErrorCategory.ResourceBusy, message, target, true),
            "40001" or "40P01" => new(ErrorIds.ServerError, SyncErrorCategory.ResourceBusy, message, target, true),
            "57P01" or "57P02" or "57P03" => new(ErrorIds.SourceConnectionFailed, SyncErrorCategory.ConnectionError, message, target, true),
            _ when sqlState.StartsWith("53", StringComparison.Ordinal) => new(ErrorIds.ServerError, SyncErrorCategory.ResourceUnavailable, message, target, true),
            _ => new(ErrorIds.ServerError, SyncErrorCategory.NotSpecified, message, target, false),
        };
    }

    /// <summary>The server's own text, with its detail and hint when it gave them.</summary>
    public static string Describe(PostgresException pg)
    {
        var text = $"{pg.MessageText} (SQLSTATE {pg.SqlState})";
        if (!string.IsNullOrEmpty(pg.Detail)) text += " Detail: " + pg.Detail;
        if (!string.IsNullOrEmpty(pg.Hint)) text += " Hint: " + pg.Hint;
        return text;
    }
}
