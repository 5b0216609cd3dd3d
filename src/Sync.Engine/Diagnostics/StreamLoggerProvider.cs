using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Sync.Engine.Diagnostics;

/// <summary>
/// A minimal logger that writes one line per message (UTC time, level, category, event id, text, exception)
/// to a TextWriter: the worker's diagnostics log. Messages come from [LoggerMessage] templates, which never
/// take connection strings or passwords.
/// </summary>
public sealed class StreamLoggerProvider(TextWriter writer, LogLevel minimum = LogLevel.Information) : ILoggerProvider
{
    private readonly object _gate = new();

    public ILogger CreateLogger(string categoryName) => new StreamLogger(this, categoryName[(categoryName.LastIndexOf('.') + 1)..]);

    public void Dispose() => writer.Flush();

    private void Write(LogLevel level, string category, EventId id, string message, Exception? exception)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"{DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss.fff}Z {Short(level)} {category}[{id.Id}] {message}");
        lock (_gate)
        {
            writer.WriteLine(line);
            if (exception is not null) writer.WriteLine(exception.ToString());
            writer.Flush();
        }
    }

    private static string Short(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };

    private sealed class StreamLogger(StreamLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= provider._minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) provider.Write(logLevel, category, eventId, formatter(state, exception), exception);
        }
    }

    private readonly LogLevel _minimum = minimum;
}
