using Microsoft.Extensions.Logging;

namespace Sync.Engine.Diagnostics;

/// <summary>An ILoggerFactory over one provider: all a worker needs, without the Microsoft.Extensions.Logging package.</summary>
public sealed class SingleProviderLoggerFactory(ILoggerProvider provider) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => provider.CreateLogger(categoryName);

    public void AddProvider(ILoggerProvider provider) =>
        throw new NotSupportedException("This logger factory writes to one provider only.");

    public void Dispose() => provider.Dispose();
}
