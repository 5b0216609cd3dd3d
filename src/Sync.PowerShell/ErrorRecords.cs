using System.Management.Automation;
using Sync.Engine.Diagnostics;

namespace Sync.PowerShell;

/// <summary>The one mapping from engine errors to ErrorRecords: stable ErrorId, category, target, message.</summary>
internal static class ErrorRecords
{
    public static ErrorRecord From(Exception exception, object? target)
    {
        var info = ErrorClassifier.Classify(exception, target?.ToString());
        var category = Enum.TryParse<ErrorCategory>(info.Category.ToString(), out var c) ? c : ErrorCategory.NotSpecified;
        var record = new ErrorRecord(exception is SyncException ? exception : new SyncException(info.ErrorId, info.Category, info.Message, info.Target, info.Retriable, exception),
            info.ErrorId, category, target ?? info.Target);
        if (info.RecommendedAction is not null)
            record.ErrorDetails = new ErrorDetails(info.Message) { RecommendedAction = info.RecommendedAction };
        return record;
    }
}
