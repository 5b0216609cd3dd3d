using Sync.Engine.Store;

namespace Sync.Engine.Tests.Infrastructure;

/// <summary>A task store in a temporary folder, deleted on dispose.</summary>
public sealed class TempStore : IDisposable
{
    public TempStore()
    {
        Root = Path.Combine(Path.GetTempPath(), "sync-test-store-" + Guid.NewGuid().ToString("N")[..12]);
        Store = new FileTaskStore(Root);
    }

    public string Root { get; }
    public FileTaskStore Store { get; }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
