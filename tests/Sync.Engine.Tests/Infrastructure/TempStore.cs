using Sync.Engine.Store;

namespace Sync.Engine.Tests.Infrastructure;

/// <summary>
/// A task store in a temporary folder (sync-test-store-* in the system's temporary folder), deleted on dispose; with
/// SYNC_TEST_KEEP_STORE=1 it is kept, so a failed run's worker logs, events and state can be read.
/// </summary>
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
        if (Environment.GetEnvironmentVariable("SYNC_TEST_KEEP_STORE") == "1") return;
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
