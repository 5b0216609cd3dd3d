using System.Management.Automation;
using Sync.Engine.Tasks;

namespace Sync.PowerShell;

/// <summary>A cmdlet that acts on tasks named by -Name (wildcards) or piped in as SyncTask objects.</summary>
public abstract class TaskTargetCmdlet : SyncCmdlet
{
    public const string NameSet = "Name";
    public const string InputObjectSet = "InputObject";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = NameSet, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TaskNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public SyncTask[] InputObject { get; set; } = [];

    /// <summary>The tasks this call is about, re-read from the store (a piped object may be stale).</summary>
    protected IEnumerable<TaskInfo> Targets() =>
        ResolveTasks(ParameterSetName == InputObjectSet ? InputObject.Select(t => t.Name) : Name);
}
