using System.Text.RegularExpressions;
using Sync.Engine.Catalog;
using Sync.Engine.Diagnostics;

namespace Sync.Engine.Tasks;

/// <summary>
/// The rules a task definition must follow (the reference documents' limits plus what the engine needs).
/// Every error names the field and the rule, so a script author can fix the call without reading code.
/// </summary>
public static partial class TaskValidator
{
    public const int MaxTags = 20;
    public const int MaxFlowWindows = 3;
    public const string DescriptionForbiddenCharacters = "!=<>'&\"\\";
    public const string DatabaseNameForbiddenCharacters = "+\" %?\\<>";

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]{3,49}$")]
    private static partial Regex TaskNameRegex();

    public static bool IsValidName(string? name) => name is not null && TaskNameRegex().IsMatch(name);

    public static string NameRule =>
        "a task name has 4 to 50 characters, starts with a letter, and contains only letters, digits, hyphens (-) and underscores (_)";

    public static IReadOnlyList<ValidationError> Validate(TaskDefinition task)
    {
        var errors = new List<ValidationError>();
        if (!IsValidName(task.Name))
            errors.Add(new("Name", $"'{task.Name}' is not valid: {NameRule}"));
        if (task.Description is { } description)
        {
            if (description.Length > 256)
                errors.Add(new("Description", $"is {description.Length} characters long; at most 256 are allowed"));
            var bad = description.Where(c => DescriptionForbiddenCharacters.Contains(c)).Distinct().ToArray();
            if (bad.Length > 0)
                errors.Add(new("Description", $"contains {string.Join(" ", bad.Select(c => $"'{c}'"))}; these characters are not allowed: {DescriptionForbiddenCharacters}"));
        }
        ValidateEndpoint("Source", task.Source, errors);
        ValidateEndpoint("Destination", task.Destination, errors);
        if (string.Equals(task.Source.Host, task.Destination.Host, StringComparison.OrdinalIgnoreCase) &&
            task.Source.Port == task.Destination.Port &&
            string.Equals(task.Source.Database, task.Destination.Database, StringComparison.Ordinal))
            errors.Add(new("Destination", $"is the same database as the source ({task.Source.Host}:{task.Source.Port}/{task.Source.Database}); a task cannot synchronize a database onto itself"));
        ValidateSelection(task.Selection, errors);
        ValidateMapping(task.Mapping, errors);
        foreach (var (table, filter) in task.RowFilters)
        {
            ValidateTableKey("RowFilter", table, errors);
            if (string.IsNullOrWhiteSpace(filter))
                errors.Add(new("RowFilter", $"the filter for {table} is empty; remove it instead"));
            else if (filter.Contains(';'))
                errors.Add(new("RowFilter", $"the filter for {table} contains ';'; a filter is one boolean expression, such as: created_at >= '2024-01-01'"));
        }
        foreach (var (table, operations) in task.Operations)
        {
            ValidateTableKey("Operations", table, errors);
            if ((operations & ~TableOperations.All) != 0)
                errors.Add(new("Operations", $"the operations for {table} include unknown flags; use Insert, Update, Delete, Ddl"));
        }
        ValidateOptions(task.Options, errors);
        if (task.Tags.Count > MaxTags)
            errors.Add(new("Tag", $"{task.Tags.Count} tags given; at most {MaxTags} are allowed"));
        foreach (var (key, value) in task.Tags)
        {
            if (string.IsNullOrWhiteSpace(key) || key.Length > 128)
                errors.Add(new("Tag", $"tag key '{key}' must have 1 to 128 characters"));
            if (value.Length > 255)
                errors.Add(new("Tag", $"the value of tag '{key}' is {value.Length} characters long; at most 255 are allowed"));
        }
        return errors;
    }

    public static void ThrowIfAny(string taskName, IReadOnlyList<ValidationError> errors)
    {
        if (errors.Count == 0) return;
        throw new SyncException(ErrorIds.TaskDefinitionInvalid, SyncErrorCategory.InvalidArgument,
            $"Task '{taskName}' is not valid: " + string.Join("; ", errors.Select(e => e.ToString())) + ".", taskName);
    }

    /// <summary>A scheduled start must lie ahead when it is set.</summary>
    public static void ValidateScheduledStart(DateTimeOffset? start, DateTimeOffset now, List<ValidationError> errors)
    {
        if (start is { } at && at <= now)
            errors.Add(new("ScheduledStart", $"{at:u} is in the past; give a future time or leave it out to start on demand"));
    }

    private static void ValidateEndpoint(string field, EndpointDefinition endpoint, List<ValidationError> errors)
    {
        if (string.IsNullOrWhiteSpace(endpoint.Host))
            errors.Add(new(field, "the host is empty"));
        if (endpoint.Port is < 1 or > 65535)
            errors.Add(new(field, $"port {endpoint.Port} is outside 1-65535"));
        if (string.IsNullOrWhiteSpace(endpoint.Database))
            errors.Add(new(field, "the database name is empty"));
        else if (endpoint.Database.Any(c => DatabaseNameForbiddenCharacters.Contains(c)))
            errors.Add(new(field, $"the database name '{endpoint.Database}' contains one of {DatabaseNameForbiddenCharacters}, which cannot be synchronized"));
        if (string.IsNullOrWhiteSpace(endpoint.Username))
            errors.Add(new(field, "the user name is empty"));
        if (endpoint.Password is not null && endpoint.Passfile is not null)
            errors.Add(new(field, "has both a password and a passfile; give one"));
        if (endpoint.RootCertificate is { } cert && endpoint.SslMode is SslModeOption.Disable)
            errors.Add(new(field, $"a root certificate ({cert}) is given but SSL is disabled; use -SslMode VerifyFull or VerifyCA"));
    }

    private static void ValidateSelection(ObjectSelection selection, List<ValidationError> errors)
    {
        foreach (var p in selection.IncludeSchemas.Concat(selection.ExcludeSchemas))
            Try(errors, "Schema", () => NamePattern.ForSchema(p));
        foreach (var p in selection.IncludeTables.Concat(selection.ExcludeTables))
            Try(errors, "Table", () => NamePattern.ForTable(p));
        if (selection.IncludeSchemas.Count == 0)
            errors.Add(new("Schema", "no schema is included; use * for all schemas"));
        if (selection.IncludeTables.Count == 0)
            errors.Add(new("Table", "no table is included; use * for all tables"));
        foreach (var (table, columns) in selection.Columns)
        {
            ValidateTableKey("Column", table, errors);
            foreach (var p in columns.Include.Concat(columns.Exclude))
                Try(errors, "Column", () => NamePattern.ForSchema(p));
            if (columns.Include.Count == 0)
                errors.Add(new("Column", $"no column of {table} is included"));
        }
    }

    private static void ValidateMapping(NameMapping mapping, List<ValidationError> errors)
    {
        foreach (var (from, to) in mapping.Schemas)
        {
            Try(errors, "SchemaMapping", () => Identifier.ParseSingle(from));
            Try(errors, "SchemaMapping", () => Identifier.ParseSingle(to));
            CheckUnquotedTarget("SchemaMapping", to, errors);
            CheckForbiddenObjectName("SchemaMapping", to, errors);
        }
        var targets = new Dictionary<QualifiedName, string>();
        foreach (var (from, to) in mapping.Tables)
        {
            ValidateTableKey("TableMapping", from, errors);
            if (!QualifiedName.TryParse(to, out var target))
            {
                errors.Add(new("TableMapping", $"'{to}' (target of {from}) is not a table name; write table or schema.table"));
                continue;
            }
            CheckForbiddenObjectName("TableMapping", target.Name, errors);
            CheckUnquotedTarget("TableMapping", to, errors);
            if (targets.TryGetValue(target, out var other))
                errors.Add(new("TableMapping", $"{from} and {other} are both mapped to {target}; each destination table takes one source table"));
            else targets[target] = from;
        }
        foreach (var (table, columns) in mapping.Columns)
        {
            ValidateTableKey("ColumnMapping", table, errors);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (from, to) in columns)
            {
                Try(errors, "ColumnMapping", () => Identifier.ParseSingle(from));
                Try(errors, "ColumnMapping", () => Identifier.ParseSingle(to));
                CheckUnquotedTarget("ColumnMapping", to, errors);
                if (to.Contains('\'') || to.Contains('"') && !to.StartsWith('"'))
                    errors.Add(new("ColumnMapping", $"column name '{to}' contains a quotation mark, which cannot be synchronized"));
                if (!seen.Add(to))
                    errors.Add(new("ColumnMapping", $"two columns of {table} are mapped to '{to}'"));
            }
        }
    }

    /// <summary>
    /// Destination names follow psql's rules like every name: unquoted letters fold to lower case. A target written with
    /// capitals or spaces but no quotes would silently become something else, so it must be quoted.
    /// </summary>
    private static void CheckUnquotedTarget(string field, string target, List<ValidationError> errors)
    {
        foreach (var part in SplitUnquotedParts(target))
            if (part.Any(c => char.IsUpper(c) || !(char.IsLetterOrDigit(c) || c == '_' || c == '$')))
                errors.Add(new(field, $"'{target}' has capitals or special characters outside double quotes, so it would become '{part.ToLowerInvariant()}'; write '\"{part}\"' to keep it as written"));
    }

    private static IEnumerable<string> SplitUnquotedParts(string text) =>
        text.Trim().StartsWith('"') ? [] : text.Split('.').Where(p => !p.Contains('"'));

    private static void CheckForbiddenObjectName(string field, string name, List<ValidationError> errors)
    {
        if (name.IndexOfAny(['"', '.', '\'', '<', '>']) >= 0 && !name.StartsWith('"'))
            errors.Add(new(field, $"'{name}' contains one of \" . ' < > , which destination schema and table names cannot contain"));
    }

    private static void ValidateTableKey(string field, string key, List<ValidationError> errors)
    {
        if (!QualifiedName.TryParse(key, out _))
            errors.Add(new(field, $"'{key}' is not a table name; write schema.table, quoting parts that contain dots or capitals"));
    }

    private static void ValidateOptions(TaskOptions options, List<ValidationError> errors)
    {
        if (options.ConnectionRetryMinutes is < 10 or > 1440)
            errors.Add(new("ConnectionRetryMinutes", $"{options.ConnectionRetryMinutes} is outside 10-1440 minutes"));
        if (options.OtherRetryMinutes < 0)
            errors.Add(new("OtherRetryMinutes", $"{options.OtherRetryMinutes} is negative"));
        else if (options.OtherRetryMinutes >= options.ConnectionRetryMinutes)
            errors.Add(new("OtherRetryMinutes", $"{options.OtherRetryMinutes} must be below the connection retry window ({options.ConnectionRetryMinutes} minutes)"));
        if (options.LatencyWarningSeconds < 0)
            errors.Add(new("LatencyWarningSeconds", $"{options.LatencyWarningSeconds} is negative (0 turns the alert off)"));
        if (options.SequenceSafetyMargin < 0)
            errors.Add(new("SequenceSafetyMargin", $"{options.SequenceSafetyMargin} is negative"));
        if (options.CopyWorkers is < 0 or > 64)
            errors.Add(new("CopyWorkers", $"{options.CopyWorkers} is outside 0-64 (0 chooses from the core count)"));
        if (options.SplitTableBytes < 1024 * 1024)
            errors.Add(new("SplitTableBytes", $"{options.SplitTableBytes} is below 1 MB"));
        ValidateFlowControl(options.FlowControl, errors);
    }

    public static void ValidateFlowControl(FlowControl flow, List<ValidationError> errors)
    {
        if (flow.RowsPerSecond is <= 0)
            errors.Add(new("RowsPerSecond", $"{flow.RowsPerSecond} must be positive; leave it out for no limit"));
        if (flow.BytesPerSecond is < 1024)
            errors.Add(new("BytesPerSecond", $"{flow.BytesPerSecond} is below 1 KB/s; leave it out for no limit"));
        if (flow.Windows.Count > MaxFlowWindows)
            errors.Add(new("FlowWindow", $"{flow.Windows.Count} windows given; at most {MaxFlowWindows} are allowed"));
        if (flow.Windows.Count > 0 && !flow.IsLimited)
            errors.Add(new("FlowWindow", "windows are given without a limit; add -RowsPerSecond or -BytesPerSecond"));
        for (var i = 0; i < flow.Windows.Count; i++)
        {
            var w = flow.Windows[i];
            if (w.Start.Hour == w.End.Hour && w.Start.Minute == w.End.Minute)
                errors.Add(new("FlowWindow", $"window {w} is empty; for a limit all day give no window"));
            for (var j = 0; j < i; j++)
                if (Overlap(w, flow.Windows[j]))
                    errors.Add(new("FlowWindow", $"windows {flow.Windows[j]} and {w} overlap"));
        }
    }

    private static bool Overlap(FlowWindow a, FlowWindow b) =>
        a.Intervals().Any(x => b.Intervals().Any(y => x.From < y.To && y.From < x.To));

    private static void Try(List<ValidationError> errors, string field, Action parse)
    {
        try { parse(); }
        catch (FormatException e) { errors.Add(new(field, e.Message)); }
    }
}
