using Sync;
using Sync.Engine.Store;
using Sync.Engine.Tasks;

// Usage: Sync.StoreStress <store> <task> <iterations> <label>
// Each iteration increments the task state's HandledControlSequence (a read-modify-write under the task
// lock) and appends one event, so lost updates or torn files show up in the totals the test checks.
var store = new FileTaskStore(args[0]);
var task = args[1];
var iterations = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
var label = args[3];
for (var i = 0; i < iterations; i++)
{
    store.UpdateState(task, s => s with { HandledControlSequence = s.HandledControlSequence + 1 });
    store.AppendEvent(task, new TaskEvent { Time = DateTimeOffset.UtcNow, Kind = SyncEventKind.Progress, Message = $"{label} {i}" });
}
return 0;
