using System.Management.Automation;
using Sync.Engine.Tasks;

namespace Sync.PowerShell.Commands;

/// <summary>
/// Waits until tasks reach a point: the full copy done, caught up (latency below -MaxLatency), or stopped. Shows
/// an overall progress bar with one bar per table being copied. Fails when the task fails or -Timeout passes.
/// </summary>
[Cmdlet(VerbsLifecycle.Wait, "SyncTask", DefaultParameterSetName = NameSet)]
[OutputType(typeof(SyncTask))]
public sealed class WaitSyncTaskCommand : TaskTargetCmdlet
{
    [Parameter]
    public WaitCondition Until { get; set; } = WaitCondition.FullSyncComplete;

    /// <summary>Seconds to wait at most; by default without limit (Ctrl+C stops waiting, not the task).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Timeout { get; set; }

    /// <summary>For -Until CaughtUp: the latency, in seconds, that counts as caught up.</summary>
    [Parameter]
    [ValidateRange(0.001, 3600)]
    public double MaxLatency { get; set; } = 1;

    protected override void ProcessRecord()
    {
        foreach (var task in Targets())
        {
            var progress = new ProgressWriter(this);
            try
            {
                var done = RunEngine(ct => Service.WaitAsync(task.Name, Until, Timeout > 0 ? TimeSpan.FromSeconds(Timeout) : null,
                    TimeSpan.FromSeconds(MaxLatency), t => OnPipeline(() => progress.Show(t)), ct));
                WriteObject(new SyncTask(done));
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
