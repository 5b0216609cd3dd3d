using System.Management.Automation;

namespace Sync.PowerShell.Commands;

/// <summary>
/// Resets a paused, failed, stopped or completed task so that it runs again without being configured again: a Full or
/// FullIncremental task copies everything again under a new snapshot (and a new replication slot) on its next start,
/// an Incremental task streams again from its slot. -ClearDestination truncates the task's mapped tables first.
/// The prechecks must pass again before the task starts. -WhatIf lists every action.
/// </summary>
[Cmdlet(VerbsCommon.Reset, "SyncTask", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = NameSet)]
[OutputType(typeof(SyncTask))]
public sealed class ResetSyncTaskCommand : TaskTargetCmdlet
{
    /// <summary>Truncates the task's mapped tables on the destination (and nothing else) before the copy runs again.</summary>
    [Parameter]
    public SwitchParameter ClearDestination { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var task in Targets())
        {
            try
            {
                var plan = RunEngine(ct => Service.PlanResetAsync(task.Name, ClearDestination.IsPresent, ct));
                var list = string.Join(Environment.NewLine, plan.Actions.Select(a => "  - " + a));
                if (!ShouldProcess($"Reset task '{task.Name}':{Environment.NewLine}{list}",
                        $"Reset task '{task.Name}'? It will:{Environment.NewLine}{list}", "Reset-SyncTask")) continue;
                var report = RunEngine(ct => Service.ResetAsync(task.Name, ClearDestination.IsPresent, ct));
                foreach (var table in report.Truncated) WriteVerbose($"Truncated {table}.");
                foreach (var removed in report.Cleanup.Removed) WriteVerbose($"Dropped {removed}.");
                foreach (var left in report.Cleanup.LeftBehind) WriteWarning($"Task '{task.Name}' was reset, but it left {left}");
                WriteObject(new SyncTask(report.Task));
            }
            catch (Engine.Diagnostics.SyncException e)
            {
                WriteSyncError(e, task.Name);
            }
        }
    }
}
