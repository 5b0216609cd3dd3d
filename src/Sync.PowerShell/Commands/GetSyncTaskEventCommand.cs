using System.Management.Automation;

namespace Sync.PowerShell.Commands;

/// <summary>
/// Reads tasks' event logs: status changes, retries, conflicts, errors, DDL, operator actions. Filter by time, level
/// and kind; -Wait follows the log like Get-Content -Wait until Ctrl+C.
/// </summary>
[Cmdlet(VerbsCommon.Get, "SyncTaskEvent", DefaultParameterSetName = NameSet)]
[OutputType(typeof(SyncTaskEvent))]
public sealed class GetSyncTaskEventCommand : TaskTargetCmdlet
{
    [Parameter]
    public DateTime After { get; set; }

    [Parameter]
    public SyncEventLevel[]? Level { get; set; }

    [Parameter]
    public SyncEventKind[]? Kind { get; set; }

    /// <summary>Only the last N matching events.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Last { get; set; }

    [Parameter]
    public SwitchParameter Wait { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var task in Targets())
        {
            try
            {
                long position = 0;
                var first = true;
                do
                {
                    var events = Service.Store.ReadEvents(task.Name, position);
                    if (events.Count > 0) position = events[^1].Position;
                    var matching = events.Where(e => Matches(e.Event)).Select(e => new SyncTaskEvent(task.Name, e.Event, e.Position)).ToList();
                    if (first && Last > 0) matching = matching.TakeLast(Last).ToList();
                    first = false;
                    foreach (var e in matching) WriteObject(e);
                    if (Wait && !Cancellation.WaitHandle.WaitOne(500)) continue;
                } while (Wait && !Cancellation.IsCancellationRequested);
            }
            catch (Engine.Diagnostics.SyncException e)
            {
                WriteSyncError(e, task.Name);
            }
        }
    }

    private bool Matches(Engine.Tasks.TaskEvent e) =>
        (!MyInvocation.BoundParameters.ContainsKey(nameof(After)) || e.Time > new DateTimeOffset(After)) &&
        (Level is null || Level.Contains(e.Level)) &&
        (Kind is null || Kind.Contains(e.Kind));
}
