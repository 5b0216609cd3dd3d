using Sync.Engine.Tasks;

namespace Sync.Engine.Runtime;

/// <summary>
/// Drives a task through its stages inside the worker. The stages themselves (schema migration, full
/// initialization, real-time sync) plug in here as they are built.
/// </summary>
public sealed class TaskRunner : ITaskRunner
{
    public async Task<RunOutcome> RunAsync(TaskRunContext context)
    {
        context.UpdateState(s => s with { Stage = SyncTaskStage.None });
        try
        {
            await Task.Delay(Timeout.Infinite, context.StopSignal).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.StopSignal.IsCancellationRequested)
        {
        }
        return context.StopRequested == StopMode.Pause ? RunOutcome.Paused() : RunOutcome.Stopped();
    }

    public static ITaskRunner For(TaskDefinition definition) => new TaskRunner();
}
