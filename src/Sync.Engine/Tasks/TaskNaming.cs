using System.Security.Cryptography;
using System.Text;

namespace Sync.Engine.Tasks;

/// <summary>
/// Names of what a task creates on the servers: all carry the task's name and id, so an admin can tell whose
/// they are, and removing the task can find every one of them (DESIGN.md, "Naming on the servers").
/// </summary>
public static class TaskNaming
{
    /// <summary>Schema on the destination for the task's helper tables, created only when needed.</summary>
    public const string HelperSchema = "sync";

    public static string NewId() => Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();

    /// <summary>
    /// <c>sync_&lt;name&gt;_&lt;id&gt;</c>: lower case, '-' as '_', the name cut to fit the 63-byte limit of
    /// slot, publication and origin names (slot names allow only [a-z0-9_]).
    /// </summary>
    public static string Prefix(TaskDefinition task) => Prefix(task.Name, task.Id);

    public static string Prefix(string name, string id)
    {
        var sb = new StringBuilder("sync_");
        foreach (var c in name.ToLowerInvariant().Take(40))
            sb.Append(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) ? c : '_');
        sb.Append('_').Append(id);
        return sb.ToString();
    }

    public static string SlotName(TaskDefinition task) => Prefix(task);
    public static string PublicationName(TaskDefinition task) => Prefix(task);
    public static string OriginName(TaskDefinition task) => Prefix(task);

    /// <summary>A short-lived slot for re-copying some tables (backfill, crash recovery); suffixed by a counter.</summary>
    public static string TemporarySlotName(TaskDefinition task, int number) => $"{Prefix(task)}_t{number}";

    /// <summary>Destination table that records copied ranges in the same transaction as their rows.</summary>
    public static string CopyProgressTable(TaskDefinition task) => Fit(Prefix(task) + "_copy");

    /// <summary>Destination table that holds the stream checkpoint when replication origins cannot be used.</summary>
    public static string CheckpointTable(TaskDefinition task) => Fit(Prefix(task) + "_checkpoint");

    /// <summary>Source table whose row the worker updates every few seconds where pgoutput carries no logical messages (before PostgreSQL 14).</summary>
    public static string HeartbeatTable(TaskDefinition task) => Fit(Prefix(task) + "_heartbeat");

    /// <summary>
    /// A helper table's name as the server keeps it: PostgreSQL cuts identifiers to 63 bytes, so a long task name's
    /// suffix is cut the same way here (the prefix, with the task id, always fits whole), and the names that create,
    /// find and drop a table agree with what the server made.
    /// </summary>
    private static string Fit(string name) => name.Length > MaxIdentifierLength ? name[..MaxIdentifierLength] : name;

    public const int MaxIdentifierLength = 63;
}
