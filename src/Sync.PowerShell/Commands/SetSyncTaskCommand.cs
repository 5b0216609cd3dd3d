using System.Management.Automation;

namespace Sync.PowerShell.Commands;

/// <summary>
/// Changes a task's definition. A running task accepts flow-control changes (-RowsPerSecond, -BytesPerSecond,
/// -FlowWindow, -RemoveFlowLimit) and, while it streams, table selection changes (-AddTable, -RemoveTable, -Table,
/// -ExcludeTable), applied by its worker without a restart.
/// </summary>
[Cmdlet(VerbsCommon.Set, "SyncTask", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = NameSet)]
[OutputType(typeof(SyncTask))]
public sealed class SetSyncTaskCommand : TaskOptionsCmdlet
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

    /// <summary>
    /// Adds tables to the selection. On a streaming task (FullIncremental after its copy, or Incremental) they are
    /// created, copied under their own snapshot and join the stream exactly, without a restart.
    /// </summary>
    [Parameter, ValidateNotNullOrEmpty]
    public string[]? AddTable { get; set; }

    /// <summary>Takes tables out of the selection; on a streaming task they leave the publication and their destination rows are kept.</summary>
    [Parameter, ValidateNotNullOrEmpty]
    public string[]? RemoveTable { get; set; }

    /// <summary>Removes the rows and bytes limits and the windows.</summary>
    [Parameter]
    public SwitchParameter RemoveFlowLimit { get; set; }

    [Parameter]
    public SwitchParameter ClearScheduledStart { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var changes = BuildChanges() with
        {
            RemoveFlowLimits = RemoveFlowLimit.IsPresent, ClearScheduledStart = ClearScheduledStart.IsPresent, AddTables = AddTable, RemoveTables = RemoveTable,
        };
        var names = ParameterSetName == InputObjectSet ? InputObject.Select(t => t.Name) : Name;
        foreach (var task in ResolveTasks(names))
        {
            var parameters = string.Join(", ", MyInvocation.BoundParameters.Keys.Where(k => k is not (nameof(Name) or nameof(InputObject) or nameof(PassThru) or "WhatIf" or "Confirm")));
            try
            {
                // The selection's consequences are worked out against the source (which tables join or leave); the
                // rest is named by parameter.
                var selection = changes.IncludeTables ?? changes.ExcludeTables ?? changes.IncludeSchemas ?? changes.ExcludeSchemas ?? changes.AddTables ?? changes.RemoveTables;
                var actions = selection is not null || changes.SchemaMapping is not null || changes.TableMapping is not null
                    ? RunEngine(ct => Service.PlanUpdateAsync(task.Name, changes, ct))
                    : [];
                var list = string.Join(Environment.NewLine, actions.Select(a => "  - " + a));
                if (!ShouldProcess(actions.Count == 0 ? $"Change {parameters} of task '{task.Name}'" : $"Change {parameters} of task '{task.Name}':{Environment.NewLine}{list}",
                        $"Change {parameters} of task '{task.Name}'?{(actions.Count == 0 ? "" : Environment.NewLine + list)}", "Set-SyncTask")) continue;
                var updated = Service.Update(task.Name, changes);
                if (PassThru) WriteObject(new SyncTask(updated));
            }
            catch (Engine.Diagnostics.SyncException e)
            {
                WriteSyncError(e, task.Name);
            }
        }
    }
}
