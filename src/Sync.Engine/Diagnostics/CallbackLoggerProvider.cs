using Microsoft.Extensions.Logging;

namespace Sync.Engine.Diagnostics;

/// <summary>
/// Hands each engine log message of a caller's own call to a delegate, already formatted: how a cmdlet shows what the
/// engine does for it (Verbose, Debug) without touching logging types, which may exist in another version in the
/// caller's load context. Errors arrive as exceptions; here they show only as Verbose, never twice as errors.
/// </summary>
public sealed class CallbackLoggerProvider(Action<CallerMessageLevel, string> write, CallerMessageLevel minimum) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new CallbackLogger(this);

    public void Dispose() { }

    private static CallerMessageLevel Map(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => CallerMessageLevel.Debug,
        LogLevel.Warning => CallerMessageLevel.Warning,
        _ => CallerMessageLevel.Verbose,
    };

    private sealed class CallbackLogger(CallbackLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && Map(logLevel) >= provider._minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) provider._write(Map(logLevel), formatter(state, exception));
        }
    }

    private readonly Action<CallerMessageLevel, string> _write = write;
    private readonly CallerMessageLevel _minimum = minimum;
}
