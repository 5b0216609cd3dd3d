using Sync.Engine.Security;
using Sync.Engine.Tasks;
using Sync.Engine.Tests.Infrastructure;

namespace Sync.Engine.Tests.Tasks;

/// <summary>Set-SyncTask -AddTable/-RemoveTable edit the include and exclude lists so the scope changes by exactly those tables.</summary>
public sealed class TableSelectionEditTests : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    private TaskDefinition Edit(TaskDefinition task, string[]? add = null, string[]? remove = null) =>
        new TaskChanges { AddTables = add, RemoveTables = remove }.ApplyTo(task, _temp.Store.Secrets);

    [Fact]
    public void WithEveryTableSelectedARemovedTableIsExcludedAndAddingItBackUndoesThat()
    {
        var task = TestTasks.CreateOffline(new TaskService(_temp.Store), "edit-all").Definition;
        var removed = Edit(task, remove: ["public.audit"]);
        Assert.Equal(["*"], removed.Selection.IncludeTables);
        Assert.Equal(["public.audit"], removed.Selection.ExcludeTables);
        var added = Edit(removed, add: ["public.audit"]);
        Assert.Equal(["*"], added.Selection.IncludeTables);
        Assert.Empty(added.Selection.ExcludeTables);
    }

    [Fact]
    public void WithAListOfTablesAddingAppendsAndRemovingTakesItOut()
    {
        var task = TestTasks.CreateOffline(new TaskService(_temp.Store), "edit-list", d => d with { Selection = d.Selection with { IncludeTables = ["public.a"] } }).Definition;
        var added = Edit(task, add: ["public.b"]);
        Assert.Equal(["public.a", "public.b"], added.Selection.IncludeTables);
        var removed = Edit(added, remove: ["public.a"]);
        Assert.Equal(["public.b"], removed.Selection.IncludeTables);
        Assert.Empty(removed.Selection.ExcludeTables);
        // A table matched by a pattern stays selected unless excluded by name.
        var pattern = Edit(task with { Selection = task.Selection with { IncludeTables = ["public.order*"] } }, remove: ["public.orders"]);
        Assert.Equal(["public.orders"], pattern.Selection.ExcludeTables);
    }
}
