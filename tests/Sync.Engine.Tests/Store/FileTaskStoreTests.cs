using System.Diagnostics;
using System.Text.Json;
using Sync.Engine.Diagnostics;
using Sync.Engine.Store;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Store;

public sealed class FileTaskStoreTests : IDisposable
{
    private readonly TempStore _temp = new();
    private readonly TaskService _service;

    public FileTaskStoreTests() => _service = new TaskService(_temp.Store);

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void CreatedTaskReadsBackWithEveryDocumentVersioned()
    {
        var created = TestTasks.CreateOffline(_service, "orders-sync", d => d with
        {
            Description = "nightly orders",
            Tags = new Dictionary<string, string> { ["env"] = "prod" },
            Options = d.Options with { FlowControl = new FlowControl { RowsPerSecond = 5000, Windows = [FlowWindowParser.Parse("22:00-06:00")] } },
        });

        var read = _service.Get("ORDERS-SYNC");

        Assert.Equal("orders-sync", read.Name);
        Assert.Equal(created.Definition.Id, read.Definition.Id);
        Assert.Equal("nightly orders", read.Definition.Description);
        Assert.Equal("prod", read.Definition.Tags["env"]);
        Assert.Equal(new TimeOnly(22, 0), read.Definition.Options.FlowControl.Windows[0].Start);
        Assert.Equal(SyncTaskStatus.Created, read.State.Status);
        var folder = _temp.Store.TaskFolder("orders-sync");
        foreach (var file in new[] { FileTaskStore.DefinitionFile, FileTaskStore.StateFile, FileTaskStore.ControlFileName })
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, file)));
            Assert.Equal(1, doc.RootElement.GetProperty("schemaVersion").GetInt32());
        }
        var firstEvent = File.ReadLines(Path.Combine(folder, FileTaskStore.EventsFile)).First();
        Assert.Contains("\"schemaVersion\":1", firstEvent);
    }

    [Fact]
    public void NamesAreUniqueIgnoringCase()
    {
        TestTasks.CreateOffline(_service, "Billing");
        var e = Assert.Throws<SyncException>(() => TestTasks.CreateOffline(_service, "billing"));
        Assert.Equal(ErrorIds.SyncTaskAlreadyExists, e.ErrorId);
        Assert.Contains("Billing", e.Message);
    }

    [Fact]
    public void CorruptDefinitionIsReportedWithItsPathAndNeverRewritten()
    {
        TestTasks.CreateOffline(_service, "corrupt1");
        var path = Path.Combine(_temp.Store.TaskFolder("corrupt1"), FileTaskStore.DefinitionFile);
        File.WriteAllText(path, "{ \"schemaVersion\": 1, \"name\": ");
        var before = File.ReadAllBytes(path);

        var read = Assert.Throws<SyncException>(() => _service.Get("corrupt1"));
        var update = Assert.Throws<SyncException>(() => _service.Update("corrupt1", d => d with { Description = "x" }));

        Assert.Equal(ErrorIds.StoreFileCorrupt, read.ErrorId);
        Assert.Contains(path, read.Message);
        Assert.Equal(ErrorIds.StoreFileCorrupt, update.ErrorId);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void CorruptStateFailsStateUpdatesWithoutTouchingTheFile()
    {
        TestTasks.CreateOffline(_service, "corrupt2");
        var path = Path.Combine(_temp.Store.TaskFolder("corrupt2"), FileTaskStore.StateFile);
        File.WriteAllText(path, "not json at all");

        var e = Assert.Throws<SyncException>(() => _temp.Store.UpdateState("corrupt2", s => s with { Status = SyncTaskStatus.Ready }));

        Assert.Equal(ErrorIds.StoreFileCorrupt, e.ErrorId);
        Assert.Contains(path, e.Message);
        Assert.Equal("not json at all", File.ReadAllText(path));
    }

    [Fact]
    public void QueryReportsDamagedTasksAndStillListsTheOthers()
    {
        TestTasks.CreateOffline(_service, "good-one");
        TestTasks.CreateOffline(_service, "bad-one");
        File.WriteAllText(Path.Combine(_temp.Store.TaskFolder("bad-one"), FileTaskStore.StateFile), "{");
        var errors = new List<SyncException>();

        var found = _service.Query(new TaskQuery(), errors.Add);

        Assert.Equal(["good-one"], found.Select(t => t.Name));
        Assert.Equal(ErrorIds.StoreFileCorrupt, Assert.Single(errors).ErrorId);
    }

    [Fact]
    public void NewerSchemaVersionAsksForANewerModule()
    {
        TestTasks.CreateOffline(_service, "future1");
        var path = Path.Combine(_temp.Store.TaskFolder("future1"), FileTaskStore.StateFile);
        File.WriteAllText(path, "{ \"schemaVersion\": 99, \"status\": \"Created\" }");

        var e = Assert.Throws<SyncException>(() => _service.Get("future1"));

        Assert.Equal(ErrorIds.StoreSchemaTooNew, e.ErrorId);
        Assert.Contains("99", e.Message);
    }

    [Fact]
    public void DamagedEventLineIsReportedWithItsPosition()
    {
        TestTasks.CreateOffline(_service, "events1");
        var path = Path.Combine(_temp.Store.TaskFolder("events1"), FileTaskStore.EventsFile);
        File.AppendAllText(path, "{\"broken\n");
        _temp.Store.AppendEvent("events1", new TaskEvent { Time = DateTimeOffset.UtcNow, Kind = SyncEventKind.Operator, Message = "after" });

        var e = Assert.Throws<SyncException>(() => _temp.Store.ReadEvents("events1"));

        Assert.Equal(ErrorIds.StoreFileCorrupt, e.ErrorId);
        Assert.Contains(path, e.Message);
        Assert.EndsWith("\"message\":\"after\"}", File.ReadLines(path).Last().Replace(",\"data\":null", ""));
    }

    [Fact]
    public void ReadEventsResumesFromAPosition()
    {
        TestTasks.CreateOffline(_service, "events2");
        var first = _temp.Store.ReadEvents("events2");
        _temp.Store.AppendEvent("events2", new TaskEvent { Time = DateTimeOffset.UtcNow, Kind = SyncEventKind.Operator, Message = "second" });

        var next = _temp.Store.ReadEvents("events2", first[^1].Position);

        Assert.Equal("second", Assert.Single(next).Event.Message);
    }

    [Fact]
    public void TwoProcessesWritingOneTaskLoseNothingAndTearNothing()
    {
        TestTasks.CreateOffline(_service, "contended");
        const int perWriter = 150;
        var writers = Enumerable.Range(0, 2).Select(i => StartStress("contended", perWriter, $"p{i}")).ToList();
        for (var i = 0; i < perWriter; i++)
        {
            _temp.Store.UpdateState("contended", s => s with { HandledControlSequence = s.HandledControlSequence + 1 });
            _temp.Store.AppendEvent("contended", new TaskEvent { Time = DateTimeOffset.UtcNow, Kind = SyncEventKind.Progress, Message = $"t {i}" });
        }
        foreach (var writer in writers)
        {
            Assert.True(writer.WaitForExit(120_000), "stress writer did not finish");
            Assert.True(writer.ExitCode == 0, writer.StandardError.ReadToEnd());
        }

        Assert.Equal(3 * perWriter, _temp.Store.ReadState("contended").HandledControlSequence);
        var events = _temp.Store.ReadEvents("contended");
        Assert.Equal(3 * perWriter, events.Count(e => e.Event.Kind == SyncEventKind.Progress));
        Assert.Empty(Directory.GetFiles(_temp.Store.TaskFolder("contended"), "*.tmp-*"));
    }

    [Fact]
    public void AWriterThatCannotGetTheLockFailsWithAClearError()
    {
        TestTasks.CreateOffline(_service, "locked1");
        using var held = FileLock.Acquire(Path.Combine(_temp.Store.TaskFolder("locked1"), FileTaskStore.WriteLockFile), TimeSpan.FromSeconds(1), "test");

        var e = Assert.Throws<SyncException>(() => _temp.Store.UpdateState("locked1", s => s));

        Assert.Equal(ErrorIds.SyncTaskLocked, e.ErrorId);
        Assert.Contains("locked1", e.Message);
        Assert.True(e.Retriable);
    }

    [Fact]
    public void DefinitionEditsRefuseAStaleRevision()
    {
        var task = TestTasks.CreateOffline(_service, "revision1");
        _service.Update("revision1", d => d with { Description = "first" });

        var e = Assert.Throws<SyncException>(() => _temp.Store.WriteDefinition(task.Definition with { Description = "stale" }, task.Definition.Revision));

        Assert.Equal(ErrorIds.SyncTaskLocked, e.ErrorId);
        Assert.Equal("first", _service.Get("revision1").Definition.Description);
    }

    [Fact]
    public void FilesAreReadableByTheirOwnerOnly()
    {
        if (OperatingSystem.IsWindows()) return;
        TestTasks.CreateOffline(_service, "private1");
        foreach (var file in Directory.EnumerateFiles(_temp.Root, "*", SearchOption.AllDirectories))
        {
            var mode = File.GetUnixFileMode(file);
            Assert.True((mode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) == 0, $"{file} is {mode}");
        }
    }

    [Fact]
    public void DefaultRootFollowsSyncHome()
    {
        var saved = Environment.GetEnvironmentVariable("SYNC_HOME");
        try
        {
            Environment.SetEnvironmentVariable("SYNC_HOME", "/tmp/somewhere-else");
            Assert.Equal("/tmp/somewhere-else", FileTaskStore.DefaultRoot());
            Environment.SetEnvironmentVariable("SYNC_HOME", null);
            Assert.EndsWith(OperatingSystem.IsWindows() ? "Sync" : Path.Combine(".local", "share", "sync"), FileTaskStore.DefaultRoot());
        }
        finally
        {
            Environment.SetEnvironmentVariable("SYNC_HOME", saved);
        }
    }

    private Process StartStress(string task, int iterations, string label)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { RepoPaths.StoreStressDll, _temp.Root, task, iterations.ToString(), label }) start.ArgumentList.Add(a);
        return Process.Start(start)!;
    }
}
