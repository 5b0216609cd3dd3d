using System.Management.Automation;
using Sync.Engine.Tasks;

namespace Sync.PowerShell;

/// <summary>Shows a task's progress bars (overall, then one per table in flight) and completes them at the end.</summary>
internal sealed class ProgressWriter(Cmdlet cmdlet)
{
    private readonly HashSet<int> _shown = [];

    public void Show(TaskInfo task)
    {
        var bars = TaskProgressView.Bars(task);
        foreach (var bar in bars)
        {
            var record = new ProgressRecord(bar.Id, bar.Activity, bar.Status)
            {
                PercentComplete = bar.Percent, SecondsRemaining = bar.SecondsRemaining, ParentActivityId = bar.ParentId ?? -1,
            };
            cmdlet.WriteProgress(record);
            _shown.Add(bar.Id);
        }
        foreach (var gone in _shown.Except(bars.Select(b => b.Id)).ToList())
        {
            cmdlet.WriteProgress(new ProgressRecord(gone, "done", "done") { RecordType = ProgressRecordType.Completed, ParentActivityId = gone == 1 ? -1 : 1 });
            _shown.Remove(gone);
        }
    }

    public void Complete()
    {
        foreach (var id in _shown.OrderDescending())
            cmdlet.WriteProgress(new ProgressRecord(id, "done", "done") { RecordType = ProgressRecordType.Completed, ParentActivityId = id == 1 ? -1 : 1 });
        _shown.Clear();
    }
}
