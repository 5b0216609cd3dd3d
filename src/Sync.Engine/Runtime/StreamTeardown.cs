using Sync.Engine.Connections;
using Sync.Engine.Store;
using Sync.Engine.Stream;
using Sync.Engine.Tasks;

namespace Sync.Engine.Runtime;

/// <summary>
/// Ends a streaming task's hold on its source without a drain: a forced stop, or a stop during the full copy. The slot
/// would otherwise keep WAL on the source for a task nobody resumes, so it and the publication are dropped; whatever
/// cannot be dropped (the source is unreachable, say) is recorded in the state and the event log with the SQL that
/// removes it.
/// </summary>
public static class StreamTeardown
{
    public static async Task<IReadOnlyList<string>> DropAsync(ITaskStore store, TaskDefinition task, TimeProvider clock)
    {
        if (task.Mode == SyncTaskMode.Full) return [];
        await using var source = new ConnectionFactory(store.Secrets).CreateDataSource(task.Source, $"sync:{task.Name}:stop", 2);
        var left = await PublicationManager.DropAsync(source, task, store.ReadState(task.Name).Stream?.HeartbeatTable == true, CancellationToken.None).ConfigureAwait(false);
        store.UpdateState(task.Name, s => s with
        {
            Stream = s.Stream is null ? null : s.Stream with
            {
                SlotName = left.Any(l => l.StartsWith("ReplicationSlot", StringComparison.Ordinal)) ? s.Stream.SlotName : null,
                HeartbeatTable = s.Stream.HeartbeatTable && left.Any(l => l.StartsWith("Table", StringComparison.Ordinal)),
            },
            LeftOnServers = left,
        });
        store.AppendEvent(task.Name, new TaskEvent
        {
            Time = clock.GetUtcNow(),
            Kind = left.Count > 0 ? SyncEventKind.Warning : SyncEventKind.Operator,
            Level = left.Count > 0 ? SyncEventLevel.Warning : SyncEventLevel.Information,
            Message = left.Count > 0
                ? "The replication slot and publication could not be removed; they keep WAL on the source until removed: " + string.Join("; ", left)
                : $"Replication slot {TaskNaming.SlotName(task)} and publication {TaskNaming.PublicationName(task)} dropped on the source.",
        });
        return left;
    }
}
