using System.Management.Automation;
using Sync.PowerShell.Loading;

namespace Sync.PowerShell.Commands;

/// <summary>Continues paused (or failed) tasks from their checkpoint in a new background worker.</summary>
[Cmdlet(VerbsLifecycle.Resume, "SyncTask", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = NameSet)]
[OutputType(typeof(SyncTask))]
public sealed class ResumeSyncTaskCommand : TaskTargetCmdlet
{
    protected override void ProcessRecord()
    {
        foreach (var task in Targets())
        {
            if (!ShouldProcess(task.Name, "Resume the task from its checkpoint")) continue;
            try
            {
                var spec = WorkerEntry.LaunchSpec(Path.Combine(ModuleInitializer.ModuleFolder(), "Sync.psd1"));
                WriteObject(new SyncTask(RunEngine(ct => Service.ResumeAsync(task.Name, spec, ct))));
            }
            catch (Engine.Diagnostics.SyncException e)
            {
                WriteSyncError(e, task.Name);
            }
        }
    }
}
