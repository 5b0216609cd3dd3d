using System.Management.Automation;
using Sync.Engine.Tasks;

namespace Sync.PowerShell;

/// <summary>
/// A PowerShell job that follows a task's worker (Start-SyncTask -AsJob): Running while the task runs, then
/// Completed, Failed or Stopped like the task; progress records mirror the task's; the output is the final task.
/// Stop-Job asks the worker to stop. The worker itself never depends on this session.
/// </summary>
public sealed class SyncTaskJob : Job
{
    private readonly TaskService _service;
    private readonly string _taskName;
    private readonly Timer _timer;
    private readonly object _gate = new();
    private bool _finished;

    internal SyncTaskJob(TaskService service, string taskName, string command)
        : base(command, $"SyncTask:{taskName}")
    {
        _service = service;
        _taskName = taskName;
        PSJobTypeName = "SyncTaskJob";
        SetJobState(JobState.Running);
        _timer = new Timer(_ => Poll(), null, TimeSpan.Zero, TimeSpan.FromSeconds(1));
    }

    public string TaskName => _taskName;
    public override string StatusMessage => _lastStatus;
    public override bool HasMoreData => Output.Count > 0 || Progress.Count > 0 || Error.Count > 0;
    public override string Location => Environment.MachineName;

    private string _lastStatus = "";

    public override void StopJob()
    {
        try { _service.RequestStopAsync(_taskName, ControlAction.Stop, wait: false, CancellationToken.None).GetAwaiter().GetResult(); }
        catch (Engine.Diagnostics.SyncException e) { Error.Add(ErrorRecords.From(e, _taskName)); }
    }

    private void Poll()
    {
        lock (_gate)
        {
            if (_finished) return;
            TaskInfo task;
            try { task = _service.Get(_taskName); }
            catch (Engine.Diagnostics.SyncException e)
            {
                Error.Add(ErrorRecords.From(e, _taskName));
                Finish(JobState.Failed);
                return;
            }
            _lastStatus = $"{task.State.Status} {task.State.Stage}";
            foreach (var bar in TaskProgressView.Bars(task).Take(1))
                Progress.Add(new ProgressRecord(bar.Id, bar.Activity, bar.Status) { PercentComplete = bar.Percent });
            if (task.IsRunning || task.State.Status is SyncTaskStatus.Starting) return;
            Output.Add(PSObject.AsPSObject(new SyncTask(task)));
            Finish(task.State.Status switch
            {
                SyncTaskStatus.Failed => JobState.Failed,
                SyncTaskStatus.Stopped => JobState.Stopped,
                _ => JobState.Completed,
            });
            if (task.State.Status == SyncTaskStatus.Failed && task.State.LastError is { } error)
                Error.Add(new ErrorRecord(new InvalidOperationException(error.Message), error.ErrorId, ErrorCategory.NotSpecified, _taskName));
        }
    }

    private void Finish(JobState state)
    {
        _finished = true;
        _timer.Change(Timeout.Infinite, Timeout.Infinite);
        SetJobState(state);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _timer.Dispose();
        base.Dispose(disposing);
    }
}
