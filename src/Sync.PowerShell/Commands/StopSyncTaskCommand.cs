using System.Management.Automation;
using Sync.Engine.Tasks;

namespace Sync.PowerShell.Commands;

/// <summary>
/// Stops running tasks: normally (a copy stops, a stream drains to the source's current position and removes
/// its slot), or at once with -Force. Waits until the worker has exited unless -NoWait.
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "SyncTask", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = NameSet)]
[OutputType(typeof(SyncTask))]
public sealed class StopSyncTaskCommand : TaskTargetCmdlet
{
    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter NoWait { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var task in Targets())
        {
            if (!ShouldProcess(task.Name, Force ? "Stop the task at once" : "Stop the task")) continue;
            try
            {
                var stopped = RunEngine(ct => Service.RequestStopAsync(task.Name, Force ? ControlAction.StopForce : ControlAction.Stop, !NoWait, ct));
                if (Force) foreach (var left in stopped.State.LeftOnServers) WriteWarning($"Task '{task.Name}': {left}");
                if (PassThru) WriteObject(new SyncTask(stopped));
            }
            catch (Engine.Diagnostics.SyncException e)
            {
                WriteSyncError(e, task.Name);
            }
        }
    }
}
