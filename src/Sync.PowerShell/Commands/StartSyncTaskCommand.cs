using System.Management.Automation;
using Sync.Engine.Tasks;
using Sync.PowerShell.Loading;

namespace Sync.PowerShell.Commands;

/// <summary>
/// Starts tasks in background worker processes that outlive this session. A task that has not run yet is prechecked
/// first; it starts only at 100% unless the failing checks are ignorable and named in -IgnoreCheck. Returns the task
/// at once, or with -Wait when -Until is reached (with progress).
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "SyncTask", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = NameSet)]
[OutputType(typeof(SyncTask), typeof(SyncTaskJob))]
public sealed class StartSyncTaskCommand : TaskTargetCmdlet
{
    /// <summary>Returns a job (Get-Job, Wait-Job, Receive-Job) whose state follows the task.</summary>
    [Parameter]
    public SwitchParameter AsJob { get; set; }

    /// <summary>Ids of ignorable prechecks to accept as failed (see Test-SyncTask).</summary>
    [Parameter]
    public string[] IgnoreCheck { get; set; } = [];

    [Parameter]
    public SwitchParameter Wait { get; set; }

    [Parameter]
    public WaitCondition Until { get; set; } = WaitCondition.FullSyncComplete;

    /// <summary>With -Wait: seconds to wait at most.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Timeout { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var task in Targets())
        {
            if (!ShouldProcess(task.Name, $"Start a background worker for the {task.Definition.Mode} task from {task.Definition.Source} to {task.Definition.Destination}"))
                continue;
            var progress = new ProgressWriter(this);
            try
            {
                var spec = WorkerEntry.LaunchSpec(Path.Combine(ModuleInitializer.ModuleFolder(), "Sync.psd1"));
                var started = RunEngine(ct => Service.StartAsync(task.Name, spec, IgnoreCheck, ct));
                if (AsJob)
                {
                    var job = new SyncTaskJob(Service, task.Name, MyInvocation.Line);
                    JobRepository.Add(job);
                    WriteObject(job);
                    continue;
                }
                if (Wait)
                    started = RunEngine(ct => Service.WaitAsync(task.Name, Until, Timeout > 0 ? TimeSpan.FromSeconds(Timeout) : null, TimeSpan.FromSeconds(1),
                        t => OnPipeline(() => progress.Show(t)), ct));
                WriteObject(new SyncTask(started));
            }
            catch (Engine.Diagnostics.SyncException e)
            {
                WriteSyncError(e, task.Name);
            }
            finally
            {
                progress.Complete();
            }
        }
    }
}
