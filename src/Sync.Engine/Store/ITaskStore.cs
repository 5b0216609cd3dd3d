using Sync.Engine.Security;
using Sync.Engine.Tasks;

namespace Sync.Engine.Store;

/// <summary>
/// Where tasks live: definitions (written by cmdlets), state (written by the worker), an append-only event
/// log and control requests. The file store is the embedded default; a PostgreSQL-backed store can follow.
/// Every read of a damaged document throws a SyncException naming it; nothing damaged is ever overwritten.
/// </summary>
public interface ITaskStore
{
    /// <summary>Where the store is (a folder, a connection description): for messages.</summary>
    string Location { get; }

    ISecretProtector Secrets { get; }

    /// <summary>Names of all tasks, sorted.</summary>
    IReadOnlyList<string> ListTaskNames();

    /// <summary>The stored name of a task (case-insensitive lookup), or null.</summary>
    string? FindTaskName(string name);

    /// <summary>Creates a task; fails when one with the same name (ignoring case) exists.</summary>
    void CreateTask(TaskDefinition definition, TaskState state);

    TaskDefinition ReadDefinition(string name);

    /// <summary>Replaces a task's definition if its revision is still <paramref name="expectedRevision"/>.</summary>
    void WriteDefinition(TaskDefinition definition, long expectedRevision);

    TaskState ReadState(string name);

    /// <summary>Read-modify-write of the state under the task's write lock.</summary>
    TaskState UpdateState(string name, Func<TaskState, TaskState> change);

    void AppendEvent(string name, TaskEvent taskEvent);

    /// <summary>When the last event was written, or null when there is none.</summary>
    DateTimeOffset? LastEventTime(string name);

    /// <summary>Events in the order written, starting after <paramref name="afterPosition"/> (a position returned earlier, or 0).</summary>
    IReadOnlyList<(TaskEvent Event, long Position)> ReadEvents(string name, long afterPosition = 0);

    ControlFile ReadControl(string name);

    /// <summary>Adds a request for the worker and returns its sequence number.</summary>
    long AddControlRequest(string name, ControlAction action, string? requestedBy);

    /// <summary>Removes requests the worker has acted on.</summary>
    void TrimControlRequests(string name, long handledSequence);

    /// <summary>The lease a worker holds for its whole life; null when another process holds it.</summary>
    IDisposable? TryAcquireWorkerLease(string name);

    bool IsWorkerLeaseHeld(string name);

    /// <summary>Deletes the task's folder or rows. The caller makes sure no worker runs.</summary>
    void DeleteTask(string name);
}
