using System.Management.Automation;

namespace Sync.PowerShell.Commands;

/// <summary>
/// Removes tasks and everything they created on their servers (replication slot, publication, replication
/// origin, helper tables). A running task is refused unless -Force, which stops its worker at once.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "SyncTask", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = NameSet)]
[OutputType(typeof(void))]
public sealed class RemoveSyncTaskCommand : TaskTargetCmdlet
{
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var task in Targets())
        {
            var actions = Service.DescribeRemoval(task);
            if (!ShouldProcess(task.Name, "Remove the task: " + string.Join("; ", actions))) continue;
            try
            {
                var report = RunEngine(ct => Service.RemoveAsync(task.Name, Force.IsPresent, ct));
                foreach (var removed in report.Removed) WriteVerbose($"Removed {removed}.");
                foreach (var left in report.LeftBehind) WriteWarning($"Task '{task.Name}' removed, but it left {left}");
            }
            catch (Engine.Diagnostics.SyncException e)
            {
                WriteSyncError(e, task.Name);
            }
        }
    }
}
