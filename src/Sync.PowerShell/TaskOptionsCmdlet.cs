using System.Collections;
using System.Management.Automation;
using Sync.Engine.Tasks;

namespace Sync.PowerShell;

/// <summary>
/// The task options New-SyncTask and Set-SyncTask share. A parameter not given leaves the option as it is
/// (or at its default for a new task); the mapping to the definition is the engine's <see cref="TaskChanges"/>.
/// </summary>
public abstract class TaskOptionsCmdlet : SyncCmdlet
{
    [Parameter, ValidateLength(0, 256)]
    public string? Description { get; set; }

    [Parameter]
    public SyncTaskMode Mode { get; set; }

    /// <summary>A SyncEndpoint, a connection string, or a postgresql:// URI.</summary>
    [Parameter, EndpointTransformation]
    public SyncEndpoint? Source { get; set; }

    [Parameter, EndpointTransformation]
    public SyncEndpoint? Destination { get; set; }

    [Parameter, Credential]
    public PSCredential? SourceCredential { get; set; }

    [Parameter, Credential]
    public PSCredential? DestinationCredential { get; set; }

    [Parameter, SupportsWildcards, ValidateNotNullOrEmpty]
    public string[]? Schema { get; set; }

    [Parameter, SupportsWildcards]
    public string[]? ExcludeSchema { get; set; }

    [Parameter, SupportsWildcards, ValidateNotNullOrEmpty]
    public string[]? Table { get; set; }

    [Parameter, SupportsWildcards]
    public string[]? ExcludeTable { get; set; }

    /// <summary>Per table, the columns to synchronize: @{ 'public.users' = 'id', 'name' }.</summary>
    [Parameter]
    public Hashtable? Column { get; set; }

    [Parameter]
    public Hashtable? ExcludeColumn { get; set; }

    [Parameter]
    public Hashtable? SchemaMapping { get; set; }

    [Parameter]
    public Hashtable? TableMapping { get; set; }

    /// <summary>Per table, source column = destination column: @{ 'public.users' = @{ ssn = 'tax_id' } }.</summary>
    [Parameter]
    public Hashtable? ColumnMapping { get; set; }

    [Parameter]
    public Hashtable? RowFilter { get; set; }

    /// <summary>Per table, the operations synchronized: @{ 'public.audit' = 'Insert' }.</summary>
    [Parameter]
    public Hashtable? Operation { get; set; }

    [Parameter]
    public ConflictPolicy ConflictPolicy { get; set; }

    [Parameter]
    public ExistingTablePolicy ExistingTable { get; set; }

    [Parameter]
    public SwitchParameter NoIndex { get; set; }

    [Parameter]
    public SwitchParameter SyncDdl { get; set; }

    [Parameter]
    public SwitchParameter NoMaterializedViewRefresh { get; set; }

    [Parameter, ValidateRange(0, 64)]
    public int CopyWorkers { get; set; }

    /// <summary>Rows per second read from the source; 0 removes the limit.</summary>
    [Parameter, ValidateRange(0, long.MaxValue)]
    public long RowsPerSecond { get; set; }

    /// <summary>Bytes per second read from the source; 0 removes the limit.</summary>
    [Parameter, ValidateRange(0, long.MaxValue)]
    public long BytesPerSecond { get; set; }

    /// <summary>Up to three daily windows (local time) in which the limits apply: '22:00-06:00'.</summary>
    [Parameter, ValidateCount(0, 3)]
    public string[]? FlowWindow { get; set; }

    [Parameter, ValidateRange(10, 1440)]
    public int ConnectionRetryMinutes { get; set; }

    [Parameter, ValidateRange(0, 1439)]
    public int OtherRetryMinutes { get; set; }

    [Parameter, ValidateRange(0, long.MaxValue)]
    public long SequenceSafetyMargin { get; set; }

    /// <summary>End-to-end latency (seconds) above which the task logs a Warning event; 0 turns the alert off.</summary>
    [Parameter, ValidateRange(0, 86400)]
    public int LatencyWarningSeconds { get; set; }

    /// <summary>Text keeps the stream's values in text form; Auto (the default) streams in binary where the types allow it.</summary>
    [Parameter]
    public StreamFormatOption StreamFormat { get; set; }

    [Parameter]
    public Hashtable? Tag { get; set; }

    [Parameter]
    public DateTime ScheduledStart { get; set; }

    private bool Bound(string name) => MyInvocation.BoundParameters.ContainsKey(name);

    protected TaskChanges BuildChanges() => new()
    {
        Description = Description,
        Mode = Bound(nameof(Mode)) ? Mode : null,
        Source = Source?.Input,
        Destination = Destination?.Input,
        SourceCredential = ParameterConversion.Credential(SourceCredential),
        DestinationCredential = ParameterConversion.Credential(DestinationCredential),
        IncludeSchemas = Schema,
        ExcludeSchemas = ExcludeSchema,
        IncludeTables = Table,
        ExcludeTables = ExcludeTable,
        IncludeColumns = ParameterConversion.StringLists(Column),
        ExcludeColumns = ParameterConversion.StringLists(ExcludeColumn),
        SchemaMapping = ParameterConversion.Strings(SchemaMapping),
        TableMapping = ParameterConversion.Strings(TableMapping),
        ColumnMapping = ParameterConversion.Nested(ColumnMapping),
        RowFilters = ParameterConversion.Strings(RowFilter),
        Operations = ParameterConversion.Enums<TableOperations>(Operation),
        ConflictPolicy = Bound(nameof(ConflictPolicy)) ? ConflictPolicy : null,
        ExistingTables = Bound(nameof(ExistingTable)) ? ExistingTable : null,
        SyncIndexes = Bound(nameof(NoIndex)) ? !NoIndex.IsPresent : null,
        SyncDdl = Bound(nameof(SyncDdl)) ? SyncDdl.IsPresent : null,
        PopulateMaterializedViews = Bound(nameof(NoMaterializedViewRefresh)) ? !NoMaterializedViewRefresh.IsPresent : null,
        CopyWorkers = Bound(nameof(CopyWorkers)) ? CopyWorkers : null,
        RowsPerSecond = Bound(nameof(RowsPerSecond)) ? RowsPerSecond : null,
        BytesPerSecond = Bound(nameof(BytesPerSecond)) ? BytesPerSecond : null,
        FlowWindows = FlowWindow,
        ConnectionRetryMinutes = Bound(nameof(ConnectionRetryMinutes)) ? ConnectionRetryMinutes : null,
        OtherRetryMinutes = Bound(nameof(OtherRetryMinutes)) ? OtherRetryMinutes : null,
        SequenceSafetyMargin = Bound(nameof(SequenceSafetyMargin)) ? SequenceSafetyMargin : null,
        LatencyWarningSeconds = Bound(nameof(LatencyWarningSeconds)) ? LatencyWarningSeconds : null,
        StreamFormat = Bound(nameof(StreamFormat)) ? StreamFormat : null,
        Tags = ParameterConversion.Strings(Tag),
        ScheduledStart = Bound(nameof(ScheduledStart)) ? new DateTimeOffset(ScheduledStart) : null,
    };
}
