using System.Management.Automation;
using Sync.Engine.Tasks;

namespace Sync.PowerShell.Commands;

/// <summary>Gets tasks from the store by name (wildcards), id, status or tag.</summary>
[Cmdlet(VerbsCommon.Get, "SyncTask", DefaultParameterSetName = NameSet)]
[OutputType(typeof(SyncTask))]
public sealed class GetSyncTaskCommand : SyncCmdlet
{
    public const string NameSet = "Name";
    public const string IdSet = "Id";

    [Parameter(Position = 0, ParameterSetName = NameSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TaskNameCompleter))]
    public string[]? Name { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = IdSet, ValueFromPipelineByPropertyName = true)]
    public string[] Id { get; set; } = [];

    [Parameter]
    public SyncTaskStatus[]? Status { get; set; }

    /// <summary>Tags as key or key=value (wildcards allowed); every one must match.</summary>
    [Parameter]
    [SupportsWildcards]
    public string[]? Tag { get; set; }

    protected override void ProcessRecord()
    {
        var query = new TaskQuery
        {
            Names = ParameterSetName == NameSet ? Name : null,
            Ids = ParameterSetName == IdSet ? Id : null,
            Statuses = Status,
            Tags = Tag,
        };
        var found = Service.Query(query, e => WriteSyncError(e, e.Target));
        foreach (var task in found) WriteObject(new SyncTask(task));
        ReportMissing(found);
    }

    /// <summary>Like Get-Process: a name or id without wildcards that matches nothing is an error.</summary>
    private void ReportMissing(IReadOnlyList<TaskInfo> found)
    {
        if (ParameterSetName == NameSet && Name is not null)
            foreach (var name in Name.Where(n => !Wildcard.HasWildcards(n) && !found.Any(t => t.Name.Equals(n, StringComparison.OrdinalIgnoreCase))))
                WriteSyncError(Engine.Diagnostics.SyncException.NotFound(name), name);
        if (ParameterSetName == IdSet)
            foreach (var id in Id.Where(i => !found.Any(t => t.Definition.Id.Equals(i, StringComparison.OrdinalIgnoreCase))))
                WriteSyncError(new Engine.Diagnostics.SyncException(Engine.Diagnostics.ErrorIds.SyncTaskNotFound, Engine.Diagnostics.SyncErrorCategory.ObjectNotFound,
                    $"No sync task with id '{id}' matches the filters. Run Get-SyncTask to list the tasks.", id), id);
    }
}
