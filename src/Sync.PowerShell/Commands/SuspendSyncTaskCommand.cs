using System.Management.Automation;
using Sync.Engine.Tasks;

namespace Sync.PowerShell.Commands;

/// <summary>Pauses running tasks: the worker exits at a transaction boundary and the slot keeps the changes; Resume-SyncTask continues.</summary>
[Cmdlet(VerbsLifecycle.Suspend, "SyncTask", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = NameSet)]
[OutputType(typeof(SyncTask))]
public sealed class SuspendSyncTaskCommand : TaskTargetCmdlet
{
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var task in Targets())
        {
            if (!ShouldProcess(task.Name, "Pause the task (the slot keeps its changes)")) continue;
            try
            {
                var paused = RunEngine(ct => Service.RequestStopAsync(task.Name, ControlAction.Pause, wait: true, ct));
                if (PassThru) WriteObject(new SyncTask(paused));
            }
            catch (Engine.Diagnostics.SyncException e)
            {
                WriteSyncError(e, task.Name);
            }
        }
    }
}
