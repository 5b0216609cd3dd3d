using Sync.Engine.Connections;
using Sync.Engine.Security;

namespace Sync.Engine.Tasks;

/// <summary>
/// The parameters of New-SyncTask and Set-SyncTask as plain values: null means "not given, keep what is there".
/// Applying them is engine logic (tested here), so both cmdlets only fill this record.
/// </summary>
public sealed record TaskChanges
{
    public string? Description { get; init; }
    public SyncTaskMode? Mode { get; init; }
    public EndpointInput? Source { get; init; }
    public EndpointInput? Destination { get; init; }
    /// <summary>New user name and password for the source, keeping its host and database.</summary>
    public (string UserName, Secret? Password)? SourceCredential { get; init; }
    public (string UserName, Secret? Password)? DestinationCredential { get; init; }
    public IReadOnlyList<string>? IncludeSchemas { get; init; }
    public IReadOnlyList<string>? ExcludeSchemas { get; init; }
    public IReadOnlyList<string>? IncludeTables { get; init; }
    public IReadOnlyList<string>? ExcludeTables { get; init; }
    /// <summary>Tables to add to the selection (Set-SyncTask -AddTable): taken out of the exclusions, added to a restricting include list.</summary>
    public IReadOnlyList<string>? AddTables { get; init; }
    /// <summary>Tables to take out of the selection (Set-SyncTask -RemoveTable).</summary>
    public IReadOnlyList<string>? RemoveTables { get; init; }
    /// <summary>Per table: include column patterns.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? IncludeColumns { get; init; }
    /// <summary>Per table: exclude column patterns.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? ExcludeColumns { get; init; }
    public IReadOnlyDictionary<string, string>? SchemaMapping { get; init; }
    public IReadOnlyDictionary<string, string>? TableMapping { get; init; }
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>? ColumnMapping { get; init; }
    public IReadOnlyDictionary<string, string>? RowFilters { get; init; }
    public IReadOnlyDictionary<string, TableOperations>? Operations { get; init; }
    public ConflictPolicy? ConflictPolicy { get; init; }
    public ExistingTablePolicy? ExistingTables { get; init; }
    public bool? SyncIndexes { get; init; }
    public bool? SyncDdl { get; init; }
    public bool? PopulateMaterializedViews { get; init; }
    public int? CopyWorkers { get; init; }
    public long? RowsPerSecond { get; init; }
    public long? BytesPerSecond { get; init; }
    /// <summary>True removes both limits (and the windows).</summary>
    public bool RemoveFlowLimits { get; init; }
    public IReadOnlyList<string>? FlowWindows { get; init; }
    public int? ConnectionRetryMinutes { get; init; }
    public int? OtherRetryMinutes { get; init; }
    public long? SequenceSafetyMargin { get; init; }
    public int? LatencyWarningSeconds { get; init; }
    public StreamFormatOption? StreamFormat { get; init; }
    public IReadOnlyDictionary<string, string>? Tags { get; init; }
    public DateTimeOffset? ScheduledStart { get; init; }
    public bool ClearScheduledStart { get; init; }

    /// <summary>The definition with these changes; passwords are sealed with <paramref name="secrets"/>.</summary>
    public TaskDefinition ApplyTo(TaskDefinition task, ISecretProtector secrets)
    {
        var source = Source?.Seal(secrets) ?? task.Source;
        var destination = Destination?.Seal(secrets) ?? task.Destination;
        if (SourceCredential is { } sc)
            source = source with { Username = sc.UserName, Password = sc.Password is { IsEmpty: false } p ? secrets.Protect(p) : null };
        if (DestinationCredential is { } dc)
            destination = destination with { Username = dc.UserName, Password = dc.Password is { IsEmpty: false } p ? secrets.Protect(p) : null };

        var selection = task.Selection with
        {
            IncludeSchemas = IncludeSchemas ?? task.Selection.IncludeSchemas,
            ExcludeSchemas = ExcludeSchemas ?? task.Selection.ExcludeSchemas,
            IncludeTables = IncludeTables ?? task.Selection.IncludeTables,
            ExcludeTables = ExcludeTables ?? task.Selection.ExcludeTables,
            Columns = MergeColumns(task.Selection.Columns),
        };
        try { selection = EditTables(selection, AddTables ?? [], RemoveTables ?? []); }
        catch (FormatException e) { TaskValidator.ThrowIfAny(task.Name, [new ValidationError(AddTables is null ? "RemoveTable" : "AddTable", e.Message)]); throw; }
        var mapping = task.Mapping with
        {
            Schemas = SchemaMapping ?? task.Mapping.Schemas,
            Tables = TableMapping ?? task.Mapping.Tables,
            Columns = ColumnMapping ?? task.Mapping.Columns,
        };
        var flow = task.Options.FlowControl;
        if (RemoveFlowLimits) flow = new FlowControl();
        flow = flow with
        {
            RowsPerSecond = RowsPerSecond is { } r ? (r == 0 ? null : r) : flow.RowsPerSecond,
            BytesPerSecond = BytesPerSecond is { } b ? (b == 0 ? null : b) : flow.BytesPerSecond,
            Windows = FlowWindows is null ? flow.Windows : ParseWindows(task.Name, FlowWindows),
        };
        var options = task.Options with
        {
            ConflictPolicy = ConflictPolicy ?? task.Options.ConflictPolicy,
            ExistingTables = ExistingTables ?? task.Options.ExistingTables,
            SyncIndexes = SyncIndexes ?? task.Options.SyncIndexes,
            SyncDdl = SyncDdl ?? task.Options.SyncDdl,
            PopulateMaterializedViews = PopulateMaterializedViews ?? task.Options.PopulateMaterializedViews,
            CopyWorkers = CopyWorkers ?? task.Options.CopyWorkers,
            FlowControl = flow,
            ConnectionRetryMinutes = ConnectionRetryMinutes ?? task.Options.ConnectionRetryMinutes,
            OtherRetryMinutes = OtherRetryMinutes ?? task.Options.OtherRetryMinutes,
            SequenceSafetyMargin = SequenceSafetyMargin ?? task.Options.SequenceSafetyMargin,
            LatencyWarningSeconds = LatencyWarningSeconds ?? task.Options.LatencyWarningSeconds,
            StreamFormat = StreamFormat ?? task.Options.StreamFormat,
        };
        return task with
        {
            Description = Description ?? task.Description,
            Mode = Mode ?? task.Mode,
            Source = source,
            Destination = destination,
            Selection = selection,
            Mapping = mapping,
            RowFilters = RowFilters ?? task.RowFilters,
            Operations = Operations ?? task.Operations,
            Options = options,
            Tags = Tags ?? task.Tags,
            ScheduledStart = ClearScheduledStart ? null : ScheduledStart ?? task.ScheduledStart,
        };
    }

    private static ObjectSelection EditTables(ObjectSelection selection, IReadOnlyList<string> add, IReadOnlyList<string> remove)
    {
        if (add.Count == 0 && remove.Count == 0) return selection;
        var include = selection.IncludeTables.ToList();
        var exclude = selection.ExcludeTables.ToList();
        bool Included(string table) => include.Any(p => NamePattern.ForTable(p).MatchesTable(Catalog.QualifiedName.Parse(table)));
        foreach (var table in add)
        {
            exclude.RemoveAll(e => string.Equals(e, table, StringComparison.Ordinal));
            if (!Included(table)) include.Add(table);
        }
        foreach (var table in remove)
        {
            include.RemoveAll(i => string.Equals(i, table, StringComparison.Ordinal));
            // Still matched by another include pattern: exclude it by name.
            if (Included(table) && !exclude.Contains(table, StringComparer.Ordinal)) exclude.Add(table);
        }
        return selection with { IncludeTables = include, ExcludeTables = exclude };
    }

    private static FlowWindow[] ParseWindows(string taskName, IReadOnlyList<string> windows)
    {
        try { return windows.Select(FlowWindowParser.Parse).ToArray(); }
        catch (FormatException e) { TaskValidator.ThrowIfAny(taskName, [new ValidationError("FlowWindow", e.Message)]); throw; }
    }

    private IReadOnlyDictionary<string, ColumnSelection> MergeColumns(IReadOnlyDictionary<string, ColumnSelection> current)
    {
        if (IncludeColumns is null && ExcludeColumns is null) return current;
        var merged = current.ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (table, include) in IncludeColumns ?? new Dictionary<string, IReadOnlyList<string>>())
            merged[table] = (merged.GetValueOrDefault(table) ?? new ColumnSelection()) with { Include = include };
        foreach (var (table, exclude) in ExcludeColumns ?? new Dictionary<string, IReadOnlyList<string>>())
            merged[table] = (merged.GetValueOrDefault(table) ?? new ColumnSelection()) with { Exclude = exclude };
        return merged;
    }
}
