using System.Management.Automation;
using Sync.Engine.Tasks;

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
    public DateTime Before { get; set; }

    [Parameter]
    public SyncEventLevel[]? Level { get; set; }

    [Parameter]
    public SyncEventKind[]? Kind { get; set; }

    /// <summary>Only the last N matching events (of those already written; with -Wait, every later one follows).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Last { get; set; }

    /// <summary>Follows the logs of every task named, like Get-Content -Wait, until Ctrl+C.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    private EventReader? _reader;
    private readonly List<string> _followed = [];

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        var bound = MyInvocation.BoundParameters;
        _reader = new EventReader(Service.Store, new EventQuery
        {
            After = bound.ContainsKey(nameof(After)) ? new DateTimeOffset(After) : null,
            Before = bound.ContainsKey(nameof(Before)) ? new DateTimeOffset(Before) : null,
            Levels = Level?.ToHashSet(),
            Kinds = Kind?.ToHashSet(),
            Last = Last,
        });
    }

    protected override void ProcessRecord()
    {
        foreach (var task in Targets())
        {
            if (Read(task.Name) && Wait && !_followed.Contains(task.Name, StringComparer.OrdinalIgnoreCase)) _followed.Add(task.Name);
        }
    }

    /// <summary>Follows until Ctrl+C, until -Before has passed, or until every task followed is removed.</summary>
    protected override void EndProcessing()
    {
        var failing = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        while (Wait && _followed.Count > 0 && !Cancellation.WaitHandle.WaitOne(500))
        {
            var last = _reader!.Exhausted(DateTimeOffset.Now);
            foreach (var name in _followed.ToArray())
            {
                try
                {
                    foreach (var (e, position) in _reader.ReadNew(name)) WriteObject(new SyncTaskEvent(name, e, position));
                    failing.Remove(name);
                }
                catch (Engine.Diagnostics.SyncException e)
                {
                    // One error per failing spell, not one every half second.
                    if (failing.Add(name)) WriteSyncError(e, name);
                    if (!EventReader.KeepsFollowing(e)) _followed.Remove(name);
                }
            }
            if (last) break;
        }
    }

    private bool Read(string name)
    {
        try
        {
            foreach (var (e, position) in _reader!.ReadNew(name)) WriteObject(new SyncTaskEvent(name, e, position));
            return true;
        }
        catch (Engine.Diagnostics.SyncException e)
        {
            WriteSyncError(e, name);
            return false;
        }
    }
}
