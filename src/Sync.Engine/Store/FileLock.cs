using System.Diagnostics;
using Sync.Engine.Diagnostics;

namespace Sync.Engine.Store;

/// <summary>
/// A cross-process exclusive lock on a file. Opening with FileShare.None takes an OS lock (flock on Unix,
/// a sharing lock on Windows) that the OS releases when the process dies, so a crashed holder never
/// leaves a stale lock behind. The lock file itself is never deleted while its task exists.
/// </summary>
public sealed class FileLock : IDisposable
{
    private FileStream? _stream;

    private FileLock(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
    }

    public string Path { get; }

    public static FileLock? TryAcquire(string path)
    {
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None,
            };
            if (!OperatingSystem.IsWindows())
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            return new FileLock(path, new FileStream(path, options));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/>, then fails with a message naming the lock and what holds it.</summary>
    public static FileLock Acquire(string path, TimeSpan timeout, string what, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var delay = 5;
        while (true)
        {
            var held = TryAcquire(path);
            if (held is not null) return held;
            if (clock.Elapsed >= timeout)
                throw new SyncException(ErrorIds.SyncTaskLocked, SyncErrorCategory.ResourceBusy,
                    $"{what} is locked by another process (lock file '{path}'); waited {timeout.TotalSeconds:0.#} s. " +
                    "Another cmdlet or the task's worker is writing it; try again.", path, retriable: true);
            cancellationToken.WaitHandle.WaitOne(delay);
            cancellationToken.ThrowIfCancellationRequested();
            delay = Math.Min(delay * 2, 100);
        }
    }

    /// <summary>True when some process holds the lock right now.</summary>
    public static bool IsHeld(string path)
    {
        if (!File.Exists(path)) return false;
        using var probe = TryAcquire(path);
        return probe is null;
    }

    public void Dispose()
    {
        _stream?.Dispose();
        _stream = null;
    }
}
