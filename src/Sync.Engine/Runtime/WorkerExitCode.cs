namespace Sync.Engine.Runtime;

/// <summary>Exit codes of a worker process.</summary>
public static class WorkerExitCode
{
    public const int Success = 0;
    public const int TaskFailed = 1;
    public const int BadArguments = 2;
    public const int AlreadyRunning = 3;
    public const int TaskUnreadable = 4;
}
