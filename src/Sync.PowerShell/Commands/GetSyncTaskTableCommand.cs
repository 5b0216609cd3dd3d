using System.Management.Automation;
using Sync.Engine.Catalog;
using Sync.Engine.Tasks;

namespace Sync.PowerShell.Commands;

/// <summary>
/// Lists the tables of tasks with their copy state, rows, bytes, ranges, start and end times and snapshot position:
/// the subtasks of the full initialization, of backfills and of tables added to a running task.
/// </summary>
[Cmdlet(VerbsCommon.Get, "SyncTaskTable", DefaultParameterSetName = NameSet)]
[OutputType(typeof(SyncTaskTable))]
public sealed class GetSyncTaskTableCommand : TaskTargetCmdlet
{
    /// <summary>Only tables matching these patterns (psql rules: unqualified names match in every schema).</summary>
    [Parameter, SupportsWildcards, ValidateNotNullOrEmpty]
    public string[]? Table { get; set; }

    [Parameter]
    public TableCopyState[]? State { get; set; }

    protected override void ProcessRecord()
    {
        List<NamePattern>? patterns;
        try { patterns = Table?.Select(NamePattern.ForTable).ToList(); }
        catch (FormatException e)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException($"-Table: {e.Message}", nameof(Table), e), "TableInvalid", ErrorCategory.InvalidArgument, Table));
            return;
        }
        foreach (var task in Targets())
        {
            foreach (var table in task.State.Copy?.Tables ?? [])
            {
                if (patterns is not null && !patterns.Any(p => p.MatchesTable(QualifiedName.Parse(table.Source)))) continue;
                if (State is not null && !State.Contains(table.State)) continue;
                WriteObject(new SyncTaskTable(task.Name, table, task.State.AwaitsCopy(table)));
            }
        }
    }
}
