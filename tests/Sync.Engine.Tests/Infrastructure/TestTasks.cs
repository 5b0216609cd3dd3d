using Sync.Engine.Connections;
using Sync.Engine.Runtime;
using Sync.Engine.Security;
using Sync.Engine.Tasks;

namespace Sync.Engine.Tests.Infrastructure;

/// <summary>Builds tasks and endpoints for tests.</summary>
public static class TestTasks
{
    public static EndpointInput Endpoint(PostgresCluster cluster, string database, string? user = null, string? password = null) => new()
    {
        Host = cluster.Host, Port = cluster.Port, Database = database, Username = user ?? PostgresCluster.Superuser,
        Password = new Secret(password ?? cluster.SuperuserPassword), SslMode = SslModeOption.Disable,
    };

    /// <summary>An endpoint nothing listens on: for tests that never connect.</summary>
    public static EndpointInput Unreachable(string database = "app") => new()
    {
        Host = "127.0.0.1", Port = 1, Database = database, Username = "sync", Password = new Secret("not-a-real-password"),
    };

    public static TaskInfo CreateOffline(TaskService service, string name, Func<TaskDefinition, TaskDefinition>? configure = null) =>
        service.Create(name, Unreachable("src"), Unreachable("dst"), configure);

    /// <summary>
    /// The worker the tests launch: this build's managed one, or the one SYNC_TEST_WORKER names (an executable such as the
    /// natively compiled out/worker/Sync.Worker, or a Sync.Worker.dll; a relative path is from the repository's root) to
    /// run the suite against it.
    /// </summary>
    public static WorkerLaunchSpec WorkerSpec => Environment.GetEnvironmentVariable("SYNC_TEST_WORKER") is { Length: > 0 } other
        ? WorkerLaunchSpec.ForWorker(Path.Combine(RepoPaths.Root, other))
        : WorkerLaunchSpec.ForWorkerAssembly(RepoPaths.WorkerDll);

    /// <summary>Polls until the condition holds or the deadline passes (tests never sleep a fixed time).</summary>
    public static Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what) => WaitUntilAsync(condition, timeout, () => what);

    /// <summary>Polls an asynchronous condition (one that queries a server) until it holds or the deadline passes.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out after {timeout.TotalSeconds} s waiting for {what}.");
            await Task.Delay(50);
        }
    }

    /// <summary>As the first; <paramref name="what"/> is asked for only on timeout, so it can describe the state then.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out after {timeout.TotalSeconds} s waiting for {what()}.");
            await Task.Delay(50);
        }
    }
}
