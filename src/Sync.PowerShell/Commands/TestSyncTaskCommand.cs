using System.Management.Automation;

namespace Sync.PowerShell.Commands;

/// <summary>
/// Runs the prechecks of tasks against both databases: connectivity, versions, privileges, replication settings,
/// keys, existing objects. Each check says what it found and how to fix it. -Quiet returns only whether all passed.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "SyncTask", DefaultParameterSetName = NameSet)]
[OutputType(typeof(PrecheckReport), typeof(bool))]
public sealed class TestSyncTaskCommand : TaskTargetCmdlet
{
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var task in Targets())
        {
            try
            {
                var report = RunEngine(ct => Service.RunPrechecksAsync(task.Name, ct));
                foreach (var check in report.Checks.Where(c => c.Outcome != PrecheckOutcome.Passed))
                    WriteVerbose($"[{check.Id}] {check.Outcome}: {check.Message}");
                if (Quiet) WriteObject(report.Passed);
                else WriteObject(new PrecheckReport(report));
            }
            catch (Engine.Diagnostics.SyncException e)
            {
                if (Quiet) WriteObject(false);
                WriteSyncError(e, task.Name);
            }
        }
    }
}
