using Microsoft.Extensions.Logging;

namespace Sync.Engine.Tasks;

/// <summary>
/// What the service does on a caller's behalf, for the caller's own log: the cmdlets show these as Verbose and Debug
/// output (their <c>-Verbose</c>), the worker's log file does not see them.
/// </summary>
public sealed partial class TaskService
{
    private ILogger? _log;
    private ILogger Log => _log ??= Loggers.CreateLogger<TaskService>();

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Task {TaskName}: prechecks {SuccessRate}% ({Checks} checks, {Failed} failed, {Warnings} warnings)")]
    private static partial void LogPrechecks(ILogger logger, string taskName, double successRate, int checks, int failed, int warnings);

    [LoggerMessage(EventId = 501, Level = LogLevel.Debug, Message = "Task {TaskName}: precheck {CheckId} {Outcome}: {Text}")]
    private static partial void LogCheck(ILogger logger, string taskName, string checkId, string outcome, string text);

    [LoggerMessage(EventId = 502, Level = LogLevel.Information, Message = "Task {TaskName}: worker process {ProcessId} launched; its log is {LogPath}")]
    private static partial void LogLaunched(ILogger logger, string taskName, int processId, string logPath);

    [LoggerMessage(EventId = 503, Level = LogLevel.Information, Message = "Task {TaskName}: {Action} requested from worker {ProcessId}; waiting up to {Seconds} s for it to exit")]
    private static partial void LogStopRequested(ILogger logger, string taskName, string action, int? processId, double seconds);

    [LoggerMessage(EventId = 504, Level = LogLevel.Warning, Message = "Task {TaskName}: worker {ProcessId} did not exit when asked; killing it")]
    private static partial void LogKilling(ILogger logger, string taskName, int? processId);

    [LoggerMessage(EventId = 505, Level = LogLevel.Information, Message = "Task {TaskName}: removed {What}")]
    private static partial void LogRemoved(ILogger logger, string taskName, string what);

    // Information, not Warning: the cmdlets already warn for each object left behind, from the report.
    [LoggerMessage(EventId = 506, Level = LogLevel.Information, Message = "Task {TaskName}: could not remove {What}")]
    private static partial void LogLeftBehind(ILogger logger, string taskName, string what);

    [LoggerMessage(EventId = 507, Level = LogLevel.Information, Message = "Task {TaskName}: truncated {Table} on the destination")]
    private static partial void LogTruncated(ILogger logger, string taskName, string table);

    [LoggerMessage(EventId = 508, Level = LogLevel.Information, Message = "Task {TaskName}: {Table} compared ({Level}): {Result}, {SourceRows} source rows, {DestinationRows} destination rows")]
    private static partial void LogCompared(ILogger logger, string taskName, string table, string level, string result, long sourceRows, long destinationRows);

    private void LogCleanup(string taskName, Runtime.CleanupReport report)
    {
        foreach (var removed in report.Removed) LogRemoved(Log, taskName, removed);
        foreach (var left in report.LeftBehind) LogLeftBehind(Log, taskName, left.ToString());
    }
}
