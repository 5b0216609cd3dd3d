using System.Management.Automation;

namespace Sync.PowerShell.Commands;

/// <summary>
/// Copies tables of a streaming FullIncremental task again while its stream keeps running (backfill). Without -Table it
/// reruns the whole task: missing destination columns are added and every table is copied again. Each table rejoins the
/// stream at its new snapshot's position: nothing is lost or applied twice, and the other tables never wait.
/// </summary>
[Cmdlet(VerbsLifecycle.Restart, "SyncTask", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = NameSet)]
[OutputType(typeof(SyncTask))]
public sealed class RestartSyncTaskCommand : TaskTargetCmdlet
{
    /// <summary>The task's tables to copy again (patterns); without it, every table (a rerun).</summary>
    [Parameter, SupportsWildcards, ValidateNotNullOrEmpty]
    public string[]? Table { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var task in Targets())
        {
            try
            {
                var plan = Service.PlanCopyAgain(task.Name, Table);
                var list = string.Join(Environment.NewLine, plan.Actions.Select(a => "  - " + a));
                if (!ShouldProcess($"{(plan.Rerun ? "Rerun" : "Copy tables again for")} task '{task.Name}':{Environment.NewLine}{list}",
                        $"{(plan.Rerun ? "Rerun" : "Copy tables again for")} task '{task.Name}'? It will:{Environment.NewLine}{list}", "Restart-SyncTask")) continue;
                WriteObject(new SyncTask(Service.RequestCopyAgain(task.Name, Table)));
            }
            catch (Engine.Diagnostics.SyncException e)
            {
                WriteSyncError(e, task.Name);
            }
        }
    }
}
