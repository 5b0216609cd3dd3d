using System.Management.Automation;
using Sync.Engine.Tasks;

namespace Sync.PowerShell.Commands;

/// <summary>
/// Waits until tasks reach a point: the full copy done, caught up (latency below -MaxLatency), or stopped; or a stage
/// (-Stage, reached or passed) or a status (-Status). Shows an overall progress bar with one bar per table being
/// copied. Fails when the task fails or stops short of it, or -Timeout passes.
/// </summary>
[Cmdlet(VerbsLifecycle.Wait, "SyncTask", DefaultParameterSetName = NameSet)]
[OutputType(typeof(SyncTask))]
public sealed class WaitSyncTaskCommand : TaskTargetCmdlet
{
    [Parameter]
    public WaitCondition Until { get; set; } = WaitCondition.FullSyncComplete;

    /// <summary>Waits until the task has reached this stage (or a later one), instead of -Until.</summary>
    [Parameter]
    public SyncTaskStage Stage { get; set; }

    /// <summary>Waits until the task has this status, instead of -Until.</summary>
    [Parameter]
    public SyncTaskStatus Status { get; set; }

    /// <summary>Seconds to wait at most; by default without limit (Ctrl+C stops waiting, not the task).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Timeout { get; set; }

    /// <summary>For -Until CaughtUp: the latency, in seconds, that counts as caught up.</summary>
    [Parameter]
    [ValidateRange(0.001, 3600)]
    public double MaxLatency { get; set; } = 1;

    private WaitTarget? _target;

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        var bound = MyInvocation.BoundParameters;
        var given = new[] { nameof(Until), nameof(Stage), nameof(Status) }.Where(bound.ContainsKey).ToList();
        if (given.Count > 1)
            ThrowSyncError(new Engine.Diagnostics.SyncException(Engine.Diagnostics.ErrorIds.TaskDefinitionInvalid, Engine.Diagnostics.SyncErrorCategory.InvalidArgument,
                $"Give one of -Until, -Stage and -Status, not {string.Join(" and ", given.Select(g => "-" + g))}."), string.Join(",", given));
        _target = bound.ContainsKey(nameof(Stage)) ? new WaitTarget { Stage = Stage }
            : bound.ContainsKey(nameof(Status)) ? new WaitTarget { Status = Status }
            : WaitTarget.For(Until, TimeSpan.FromSeconds(MaxLatency));
    }

    protected override void ProcessRecord()
    {
        foreach (var task in Targets())
        {
            var progress = new ProgressWriter(this);
            try
            {
                var done = RunEngine(ct => Service.WaitAsync(task.Name, _target!, Timeout > 0 ? TimeSpan.FromSeconds(Timeout) : null,
                    t => OnPipeline(() => progress.Show(t)), ct));
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
