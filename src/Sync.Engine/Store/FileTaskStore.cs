using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Sync.Engine.Diagnostics;
using Sync.Engine.Security;
using Sync.Engine.Tasks;

namespace Sync.Engine.Store;

/// <summary>
/// The embedded store: one folder per task under <c>tasks/</c> holding task.json, state.json, events.jsonl,
/// control.json, a write lock (task.lock, held for each read-modify-write) and the worker lease
/// (worker.lock, held by the worker for its life). The store key (store.key) seals passwords.
/// </summary>
public sealed class FileTaskStore : ITaskStore
{
    public const string DefinitionFile = "task.json";
    public const string StateFile = "state.json";
    public const string EventsFile = "events.jsonl";
    public const string ControlFileName = "control.json";
    public const string WriteLockFile = "task.lock";
    public const string WorkerLockFile = "worker.lock";
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(10);
    private readonly string _tasksRoot;

    public FileTaskStore(string root)
    {
        Root = Path.GetFullPath(root);
        _tasksRoot = Path.Combine(Root, "tasks");
        AtomicFile.CreatePrivateDirectory(Root);
        AtomicFile.CreatePrivateDirectory(_tasksRoot);
        EnsureStoreInfo();
        Secrets = new StoreKeyProtector(Path.Combine(Root, "store.key"));
    }

    /// <summary>$SYNC_HOME, else the platform's per-user data folder (~/.local/share/sync, %LOCALAPPDATA%\Sync).</summary>
    public static string DefaultRoot()
    {
        var home = Environment.GetEnvironmentVariable("SYNC_HOME");
        if (!string.IsNullOrWhiteSpace(home)) return home;
        var data = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        if (string.IsNullOrEmpty(data))
            data = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        return Path.Combine(data, OperatingSystem.IsWindows() ? "Sync" : "sync");
    }

    public string Root { get; }
    public string Location => Root;
    public ISecretProtector Secrets { get; }

    public string TaskFolder(string name) => Path.Combine(_tasksRoot, name);

    public IReadOnlyList<string> ListTaskNames()
    {
        if (!Directory.Exists(_tasksRoot)) return [];
        return Directory.EnumerateDirectories(_tasksRoot)
            .Select(Path.GetFileName)
            .Where(n => n is not null && !n.StartsWith('.') && File.Exists(Path.Combine(_tasksRoot, n, DefinitionFile)))
            .Select(n => n!)
            .Order(StringComparer.OrdinalIgnoreCase)
            .ToArray();
    }

    public string? FindTaskName(string name) =>
        ListTaskNames().FirstOrDefault(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));

    public void CreateTask(TaskDefinition definition, TaskState state)
    {
        using var storeLock = FileLock.Acquire(Path.Combine(Root, "store.lock"), LockWait, $"The task store '{Root}'");
        var existing = FindTaskName(definition.Name);
        if (existing is not null || Directory.Exists(TaskFolder(definition.Name)))
            throw new SyncException(ErrorIds.SyncTaskAlreadyExists, SyncErrorCategory.ResourceExists,
                $"A sync task named '{existing ?? definition.Name}' already exists in '{Root}'. Choose another name, or remove it with Remove-SyncTask.",
                definition.Name);
        // Build the folder under a temporary name and rename it in one step, so a half-created task is never listed.
        var staging = Path.Combine(_tasksRoot, $".new-{definition.Name}-{Guid.NewGuid():N}");
        AtomicFile.CreatePrivateDirectory(staging);
        try
        {
            WriteDocument(Path.Combine(staging, StateFile), state, StoreJsonContext.Default.TaskState);
            WriteDocument(Path.Combine(staging, ControlFileName), new ControlFile(), StoreJsonContext.Default.ControlFile);
            WriteDocument(Path.Combine(staging, DefinitionFile), definition, StoreJsonContext.Default.TaskDefinition);
            Directory.Move(staging, TaskFolder(definition.Name));
        }
        catch
        {
            try { Directory.Delete(staging, recursive: true); } catch (IOException) { }
            throw;
        }
    }

    public TaskDefinition ReadDefinition(string name) =>
        ReadDocument(TaskFile(name, DefinitionFile), StoreJsonContext.Default.TaskDefinition, TaskDefinition.CurrentSchemaVersion);

    public void WriteDefinition(TaskDefinition definition, long expectedRevision)
    {
        using var held = AcquireWriteLock(definition.Name);
        var current = ReadDefinition(definition.Name);
        if (current.Revision != expectedRevision)
            throw new SyncException(ErrorIds.SyncTaskLocked, SyncErrorCategory.ResourceBusy,
                $"Task '{definition.Name}' was changed by someone else while this change was prepared (revision {current.Revision}, expected {expectedRevision}). Read it again and retry.",
                definition.Name, retriable: true);
        WriteDocument(TaskFile(definition.Name, DefinitionFile), definition, StoreJsonContext.Default.TaskDefinition);
    }

    public TaskState ReadState(string name) =>
        ReadDocument(TaskFile(name, StateFile), StoreJsonContext.Default.TaskState, TaskState.CurrentSchemaVersion);

    public TaskState UpdateState(string name, Func<TaskState, TaskState> change)
    {
        using var held = AcquireWriteLock(name);
        var next = change(ReadState(name)) with { UpdatedAt = DateTimeOffset.UtcNow };
        WriteDocument(TaskFile(name, StateFile), next, StoreJsonContext.Default.TaskState);
        return next;
    }

    public void AppendEvent(string name, TaskEvent taskEvent)
    {
        var line = JsonSerializer.SerializeToUtf8Bytes(taskEvent, EventJsonContext.Default.TaskEvent);
        var path = TaskFile(name, EventsFile);
        using var held = AcquireWriteLock(name);
        // Appends are serialized by the task's write lock; readers (Get-SyncTaskEvent -Wait, another process) may read
        // meanwhile and skip a line still being written.
        using var stream = new FileStream(path, AtomicFile.PrivateFileOptions(FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read));
        // A crash in the middle of an append leaves a line without its newline; start on a fresh line so the
        // damaged one stays visible (and reported) instead of swallowing this event.
        if (stream.Length > 0)
        {
            stream.Seek(-1, SeekOrigin.End);
            if (stream.ReadByte() != '\n') stream.WriteByte((byte)'\n');
        }
        stream.Seek(0, SeekOrigin.End);
        var buffer = new byte[line.Length + 1];
        line.CopyTo(buffer, 0);
        buffer[^1] = (byte)'\n';
        stream.Write(buffer);
        stream.Flush(flushToDisk: true);
    }

    public DateTimeOffset? LastEventTime(string name)
    {
        var path = TaskFile(name, EventsFile);
        return File.Exists(path) ? new DateTimeOffset(File.GetLastWriteTimeUtc(path), TimeSpan.Zero) : null;
    }

    public IReadOnlyList<(TaskEvent Event, long Position)> ReadEvents(string name, long afterPosition = 0)
    {
        var path = TaskFile(name, EventsFile);
        if (!File.Exists(path)) return [];
        var result = new List<(TaskEvent, long)>();
        byte[] content;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                if (afterPosition > stream.Length) afterPosition = 0;
                stream.Seek(afterPosition, SeekOrigin.Begin);
                content = new byte[stream.Length - afterPosition];
                stream.ReadExactly(content);
                break;
            }
            catch (IOException) when (attempt < 20 && File.Exists(path))
            {
                // A writer of an older version holds the file exclusively for the moment of its append.
                Thread.Sleep(10);
            }
            catch (IOException e) { throw Unreadable(path, e); }
        }
        var start = 0;
        while (start < content.Length)
        {
            var end = Array.IndexOf(content, (byte)'\n', start);
            if (end < 0) break; // an append in progress: its line is read next time
            var segment = new ReadOnlySpan<byte>(content, start, end - start);
            if (segment.Trim((byte)'\r').Length > 0)
            {
                TaskEvent? parsed;
                try { parsed = JsonSerializer.Deserialize(segment, EventJsonContext.Default.TaskEvent); }
                catch (JsonException e) { throw Corrupt(path, $"line at byte {afterPosition + start}: {e.Message}", e); }
                if (parsed is null) throw Corrupt(path, $"line at byte {afterPosition + start} is null", null);
                if (parsed.SchemaVersion > TaskEvent.CurrentSchemaVersion) throw TooNew(path, parsed.SchemaVersion, TaskEvent.CurrentSchemaVersion);
                result.Add((parsed, afterPosition + end + 1));
            }
            start = end + 1;
        }
        return result;
    }

    public ControlFile ReadControl(string name) =>
        ReadDocument(TaskFile(name, ControlFileName), StoreJsonContext.Default.ControlFile, ControlFile.CurrentSchemaVersion);

    public long AddControlRequest(string name, ControlAction action, string? requestedBy)
    {
        using var held = AcquireWriteLock(name);
        var control = ReadControl(name);
        var handled = ReadState(name).HandledControlSequence;
        var sequence = Math.Max(handled, control.Requests.Select(r => r.Sequence).DefaultIfEmpty(0).Max()) + 1;
        var request = new ControlRequest { Sequence = sequence, Action = action, At = DateTimeOffset.UtcNow, RequestedBy = requestedBy };
        WriteDocument(TaskFile(name, ControlFileName), control with { Requests = [.. control.Requests, request] }, StoreJsonContext.Default.ControlFile);
        return sequence;
    }

    public void TrimControlRequests(string name, long handledSequence)
    {
        using var held = AcquireWriteLock(name);
        var control = ReadControl(name);
        var remaining = control.Requests.Where(r => r.Sequence > handledSequence).ToArray();
        if (remaining.Length != control.Requests.Count)
            WriteDocument(TaskFile(name, ControlFileName), control with { Requests = remaining }, StoreJsonContext.Default.ControlFile);
    }

    public IDisposable? TryAcquireWorkerLease(string name) => FileLock.TryAcquire(TaskFile(name, WorkerLockFile));

    public bool IsWorkerLeaseHeld(string name) => FileLock.IsHeld(TaskFile(name, WorkerLockFile));

    public void DeleteTask(string name)
    {
        var folder = TaskFolder(RequireExisting(name));
        // Rename first: the task disappears from listings in one step even if deleting the files is slow or fails.
        var doomed = Path.Combine(_tasksRoot, $".deleted-{Path.GetFileName(folder)}-{Guid.NewGuid():N}");
        using (AcquireWriteLock(name))
        {
            Directory.Move(folder, doomed);
        }
        Directory.Delete(doomed, recursive: true);
    }

    private IDisposable AcquireWriteLock(string name) =>
        FileLock.Acquire(TaskFile(name, WriteLockFile), LockWait, $"Task '{name}'");

    private string RequireExisting(string name) => FindTaskName(name) ?? throw SyncException.NotFound(name);

    private string TaskFile(string name, string file)
    {
        var folder = TaskFolder(name);
        if (!Directory.Exists(folder))
        {
            var actual = FindTaskName(name) ?? throw SyncException.NotFound(name);
            folder = TaskFolder(actual);
        }
        return Path.Combine(folder, file);
    }

    private void EnsureStoreInfo()
    {
        var path = Path.Combine(Root, "store.json");
        if (File.Exists(path))
        {
            ReadDocument(path, StoreJsonContext.Default.StoreInfo, StoreInfo.CurrentSchemaVersion);
            return;
        }
        using var held = FileLock.Acquire(Path.Combine(Root, "store.lock"), LockWait, $"The task store '{Root}'");
        if (!File.Exists(path))
            WriteDocument(path, new StoreInfo { CreatedAt = DateTimeOffset.UtcNow }, StoreJsonContext.Default.StoreInfo);
    }

    private static void WriteDocument<T>(string path, T document, JsonTypeInfo<T> typeInfo) =>
        AtomicFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(document, typeInfo));

    private static T ReadDocument<T>(string path, JsonTypeInfo<T> typeInfo, int supported) where T : class
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (FileNotFoundException e) { throw Corrupt(path, "the file is missing", e); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Unreadable(path, e); }
        T? document;
        try
        {
            using var json = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (json.RootElement.ValueKind != JsonValueKind.Object)
                throw Corrupt(path, "it is not a JSON object", null);
            if (!json.RootElement.TryGetProperty("schemaVersion", out var v) || !v.TryGetInt32(out var fileVersion))
                throw Corrupt(path, "it has no schemaVersion", null);
            if (fileVersion > supported) throw TooNew(path, fileVersion, supported);
            document = json.Deserialize(typeInfo);
        }
        catch (JsonException e) { throw Corrupt(path, e.Message, e); }
        catch (InvalidOperationException e) { throw Corrupt(path, e.Message, e); }
        if (document is null) throw Corrupt(path, "it holds null", null);
        return document;
    }

    private static SyncException Corrupt(string path, string why, Exception? inner) =>
        new(ErrorIds.StoreFileCorrupt, SyncErrorCategory.InvalidData,
            $"The store file '{path}' is damaged ({why}). It was left untouched; restore it from a backup or remove the task's folder.",
            path, inner: inner);

    private static SyncException Unreadable(string path, Exception inner) =>
        new(ErrorIds.StoreFileUnreadable, SyncErrorCategory.ReadError,
            $"The store file '{path}' cannot be read: {inner.Message}", path, retriable: true, inner: inner);

    private static SyncException TooNew(string path, int fileVersion, int supported) =>
        new(ErrorIds.StoreSchemaTooNew, SyncErrorCategory.InvalidData,
            $"The store file '{path}' has schema version {fileVersion}; this version of Sync reads up to {supported}. Update the Sync module.",
            path);
}
