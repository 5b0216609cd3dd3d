namespace Sync.Engine.Runtime;

/// <summary>Runs a task inside its worker until it finishes, fails, or is asked to stop (see <see cref="TaskRunContext"/>).</summary>
public interface ITaskRunner
{
    Task<RunOutcome> RunAsync(TaskRunContext context);
}
