using Sync.Engine.Catalog;
using Sync.Engine.Tasks;

namespace Sync.Engine.Schema;

/// <summary>Applies a task's selection and name mapping to a source catalog.</summary>
public static class ScopeResolver
{
    public static bool IsDatabaseLevel(TaskDefinition task) =>
        task.Selection.IncludeTables.All(p => p.Trim() == "*") && task.Selection.ExcludeTables.Count == 0 && task.Selection.Columns.Count == 0;

    /// <summary>Whether the task's selection (schemas and tables, include and exclude) takes this source table, without a catalog.</summary>
    public static bool Selects(TaskDefinition task, QualifiedName table) =>
        !CatalogReader.SystemSchemas.Contains(table.Schema) &&
        task.Selection.IncludeSchemas.Any(p => NamePattern.ForSchema(p).MatchesSchema(table.Schema)) &&
        !task.Selection.ExcludeSchemas.Any(p => NamePattern.ForSchema(p).MatchesSchema(table.Schema)) &&
        task.Selection.IncludeTables.Any(p => NamePattern.ForTable(p).MatchesTable(table)) &&
        !task.Selection.ExcludeTables.Any(p => NamePattern.ForTable(p).MatchesTable(table));

    public static TaskScope Resolve(TaskDefinition task, CatalogSnapshot catalog)
    {
        var includeSchemas = task.Selection.IncludeSchemas.Select(NamePattern.ForSchema).ToArray();
        var excludeSchemas = task.Selection.ExcludeSchemas.Select(NamePattern.ForSchema).ToArray();
        var includeTables = task.Selection.IncludeTables.Select(NamePattern.ForTable).ToArray();
        var excludeTables = task.Selection.ExcludeTables.Select(NamePattern.ForTable).ToArray();
        bool SchemaSelected(string schema) =>
            !CatalogReader.SystemSchemas.Contains(schema) && includeSchemas.Any(p => p.MatchesSchema(schema)) && !excludeSchemas.Any(p => p.MatchesSchema(schema));
        bool NameSelected(QualifiedName name) =>
            SchemaSelected(name.Schema) && includeTables.Any(p => p.MatchesTable(name)) && !excludeTables.Any(p => p.MatchesTable(name));

        var schemaMap = task.Mapping.Schemas.ToDictionary(kv => Identifier.ParseSingle(kv.Key), kv => Identifier.ParseSingle(kv.Value), StringComparer.Ordinal);
        string MapSchema(string schema) => schemaMap.TryGetValue(schema, out var mapped) ? mapped : schema;
        var tableMap = task.Mapping.Tables.ToDictionary(
            kv => QualifiedName.Parse(kv.Key),
            kv => { var source = QualifiedName.Parse(kv.Key); return QualifiedName.Parse(kv.Value, MapSchema(source.Schema)); });
        var columnMaps = task.Mapping.Columns.ToDictionary(kv => QualifiedName.Parse(kv.Key),
            kv => kv.Value.ToDictionary(c => Identifier.ParseSingle(c.Key), c => Identifier.ParseSingle(c.Value), StringComparer.Ordinal));
        var columnSelections = task.Selection.Columns.ToDictionary(kv => QualifiedName.Parse(kv.Key), kv => kv.Value);
        var filters = task.RowFilters.ToDictionary(kv => QualifiedName.Parse(kv.Key), kv => kv.Value);
        var operations = task.Operations.ToDictionary(kv => QualifiedName.Parse(kv.Key), kv => kv.Value);

        var byName = catalog.Tables.ToDictionary(t => t.Name);
        QualifiedName Root(TableInfo table)
        {
            var current = table;
            while (current.PartitionParent is { } parent && byName.TryGetValue(parent, out var p)) current = p;
            return current.Name;
        }

        var excluded = new List<(string, string)>();
        var tables = new List<ScopedTable>();
        foreach (var table in catalog.Tables)
        {
            var root = Root(table);
            if (!NameSelected(root) || (root != table.Name && !SchemaSelected(table.Name.Schema))) continue;
            if (table.Persistence == 'u' && task.Mode != SyncTaskMode.Full)
            {
                excluded.Add((table.Name.ToString(), "unlogged: its changes are not written to WAL, so they cannot be streamed"));
                continue;
            }
            var destination = tableMap.TryGetValue(table.Name, out var mapped) ? mapped : new QualifiedName(MapSchema(table.Name.Schema), table.Name.Name);
            var columns = table.Columns.AsEnumerable();
            if (columnSelections.TryGetValue(table.Name, out var selection) && table.IsTable)
            {
                var keys = new HashSet<string>(table.PrimaryKey?.Columns ?? [], StringComparer.Ordinal);
                columns = columns.Where(c => keys.Contains(c.Name) || Takes(selection, c.Name));
            }
            var selected = columns.ToArray();
            var renames = columnMaps.GetValueOrDefault(table.Name) ?? new Dictionary<string, string>();
            tables.Add(new ScopedTable
            {
                Source = table,
                Destination = destination,
                Columns = selected,
                ColumnNames = selected.ToDictionary(c => c.Name, c => renames.GetValueOrDefault(c.Name, c.Name), StringComparer.Ordinal),
                RowFilter = filters.GetValueOrDefault(table.Name),
                Operations = operations.GetValueOrDefault(table.Name, TableOperations.All),
            });
        }

        var selectedNames = tables.Select(t => t.Name).ToHashSet();
        var sequences = catalog.Sequences.Where(s => !s.IsIdentity && (
            s.OwnedBy is { } owner ? selectedNames.Contains(owner.Table) : NameSelected(s.Name))).ToArray();
        var databaseLevel = IsDatabaseLevel(task);
        var objectSchemas = tables.Select(t => t.Name.Schema).Concat(sequences.Select(s => s.Name.Schema)).ToHashSet(StringComparer.Ordinal);
        var usedTypes = tables.SelectMany(t => t.Columns).Where(c => c.UserTypeSchema is not null)
            .Select(c => new QualifiedName(c.UserTypeSchema!, c.UserTypeName!)).ToHashSet();
        var types = catalog.Types.Where(t => usedTypes.Contains(t.Name) || (databaseLevel && SchemaSelected(t.Name.Schema)) || objectSchemas.Contains(t.Name.Schema)).ToArray();
        var functions = databaseLevel ? catalog.Functions.Where(f => SchemaSelected(f.Name.Schema)).ToArray() : [];
        var schemas = objectSchemas.Concat(types.Select(t => t.Name.Schema)).Concat(functions.Select(f => f.Name.Schema))
            .Concat(databaseLevel ? catalog.Schemas.Where(SchemaSelected) : [])
            .Distinct().Order(StringComparer.Ordinal).ToArray();
        var renamer = new SqlRenamer(schemaMap, tableMap.Where(kv => selectedNames.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value));
        return new TaskScope
        {
            Catalog = catalog, Tables = tables, Sequences = sequences, Types = types, Functions = functions, Schemas = schemas,
            SchemaMap = schemaMap, Renamer = renamer, DatabaseLevel = databaseLevel, Excluded = excluded,
        };
    }

    /// <summary>
    /// True when the task's column selection takes <paramref name="column"/> of <paramref name="table"/> (the stream
    /// asks about columns the source gained after the scope was read).
    /// </summary>
    public static bool ColumnSelected(TaskDefinition task, QualifiedName table, string column) =>
        task.Selection.Columns.FirstOrDefault(kv => QualifiedName.Parse(kv.Key) == table).Value is not { } selection || Takes(selection, column);

    private static bool Takes(ColumnSelection selection, string column) =>
        selection.Include.Any(p => NamePattern.ForSchema(p).MatchesColumn(column)) && !selection.Exclude.Any(p => NamePattern.ForSchema(p).MatchesColumn(column));
}
