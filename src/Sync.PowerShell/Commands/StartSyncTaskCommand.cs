using System.Management.Automation;
using Sync.PowerShell.Loading;

namespace Sync.PowerShell.Commands;

/// <summary>
/// Starts tasks in background worker processes that outlive this session, and returns each task at once.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "SyncTask", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = NameSet)]
[OutputType(typeof(SyncTask))]
public sealed class StartSyncTaskCommand : TaskTargetCmdlet
{
    protected override void ProcessRecord()
    {
        foreach (var task in Targets())
        {
            if (!ShouldProcess(task.Name, $"Start a background worker for the {task.Definition.Mode} task from {task.Definition.Source} to {task.Definition.Destination}"))
                continue;
            try
            {
                var spec = WorkerEntry.LaunchSpec(Path.Combine(ModuleInitializer.ModuleFolder(), "Sync.psd1"));
                WriteObject(new SyncTask(RunEngine(ct => Service.LaunchWorkerAsync(task.Name, spec, ct))));
            }
            catch (Engine.Diagnostics.SyncException e)
            {
                WriteSyncError(e, task.Name);
            }
        }
    }
}
