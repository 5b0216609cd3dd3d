using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Sync.Engine.Catalog;

namespace Sync.Engine.Schema;

/// <summary>
/// Turns a task's scope into DDL for the destination. Every identifier is quoted; server-generated expression
/// text is carried over with mapped names rewritten by <see cref="SqlRenamer"/>.
/// </summary>
public static partial class SchemaBuilder
{
    /// <summary>Kind of the steps that build an index (and may run in parallel, even on one table).</summary>
    public const string IndexKind = "Index";

    [System.Text.RegularExpressions.GeneratedRegex("^(?<type>PRIMARY KEY|UNIQUE) \\((?<columns>[^()]*)\\)$")]
    private static partial System.Text.RegularExpressions.Regex SimpleKey();

    /// <param name="scope">The task's scope on the source catalog.</param>
    /// <param name="existingTables">Destination tables that already exist and are kept (created by nobody here, left alone).</param>
    public static SchemaPlan Build(TaskScope scope, IReadOnlySet<QualifiedName> existingTables)
    {
        var skipped = new List<string>();
        var namespaces = scope.Schemas.Select(s => scope.MapSchema(s)).Distinct()
            .Select(s => new DdlStep("Schema", s, $"CREATE SCHEMA IF NOT EXISTS {Identifier.Quote(s)}")).ToList();
        var typeSchemas = scope.Tables.SelectMany(t => t.Columns).Select(c => c.UserTypeSchema).Where(s => s is not null).ToHashSet();
        foreach (var (name, schema) in scope.Catalog.Extensions.Where(e => scope.DatabaseLevel || scope.Schemas.Contains(e.Schema) || typeSchemas.Contains(e.Schema)))
        {
            if (!scope.Schemas.Contains(schema))
                namespaces.Add(new DdlStep("Schema", scope.MapSchema(schema), $"CREATE SCHEMA IF NOT EXISTS {Identifier.Quote(scope.MapSchema(schema))}"));
            namespaces.Add(new DdlStep("Extension", name, $"CREATE EXTENSION IF NOT EXISTS {Identifier.Quote(name)} WITH SCHEMA {Identifier.Quote(scope.MapSchema(schema))}"));
        }

        // Collations made with CREATE COLLATION: those of the selected schemas and those a selected column uses.
        var usedCollations = scope.Tables.SelectMany(t => t.Columns).Select(c => c.Collation).OfType<QualifiedName>().ToHashSet();
        foreach (var collation in scope.Catalog.Collations.Where(c => scope.DatabaseLevel || scope.Schemas.Contains(c.Name.Schema) || usedCollations.Contains(c.Name)))
        {
            if (!scope.Schemas.Contains(collation.Name.Schema))
                namespaces.Add(new DdlStep("Schema", scope.MapSchema(collation.Name.Schema), $"CREATE SCHEMA IF NOT EXISTS {Identifier.Quote(scope.MapSchema(collation.Name.Schema))}"));
            namespaces.Add(new DdlStep("Collation", collation.Name.ToString(), CollationDdl(MappedCollation(scope, collation.Name), collation)));
        }

        var types = scope.Types.Select(t => new DdlStep("Type", t.Name.ToString(), TypeDdl(scope, t))).ToList();
        var functions = scope.Functions.Select(f => new DdlStep("Function", $"{f.Name}({f.Signature})", FunctionDdl(scope, f))).ToList();
        var sequences = scope.Sequences.Select(s => new DdlStep("Sequence", s.Name.ToString(), SequenceDdl(scope, s))).ToList();

        var tables = new List<DdlStep>();
        var indexes = new List<DdlStep>();
        var foreignKeys = new List<DdlStep>();
        var views = new List<DdlStep>();
        var triggers = new List<DdlStep>();
        foreach (var table in OrderByPartitionDepth(scope.Tables.Where(t => t.Source.IsTable)))
        {
            if (existingTables.Contains(table.Destination)) continue;
            tables.Add(new DdlStep("Table", table.Destination.ToString(), TableDdl(scope, table)) { Table = table.Destination });
            foreach (var constraint in table.Source.Constraints)
            {
                var name = MappedName('c', table, constraint.Name);
                if (constraint.Type == 'f')
                {
                    if (ForeignKeyDdl(scope, table, constraint, name) is { } fk) foreignKeys.Add(new DdlStep("ForeignKey", $"{table.Destination}.{name}", fk) { Table = table.Destination });
                    else skipped.Add($"foreign key {constraint.Name} on {table.Name}: it references {constraint.ReferencedTable}, which the task does not synchronize (or a column it leaves out)");
                    continue;
                }
                if (constraint.Columns.Any(c => !table.ColumnNames.ContainsKey(c)))
                {
                    skipped.Add($"constraint {constraint.Name} on {table.Name}: it uses a column the task leaves out");
                    continue;
                }
                var definition = scope.Renamer.Rename(constraint.Definition, RenamedColumns(table));
                var kind = constraint.Type == 'p' ? "PrimaryKey" : "Constraint";
                if (constraint.Type is 'p' or 'u' && table.Source.Kind == 'r' && SimpleKey().Match(definition) is { Success: true } key)
                {
                    // Build the unique index on its own (it may run beside the table's other index builds, which share a
                    // lock), then attach it as the constraint, which takes only a moment under the exclusive lock.
                    indexes.Add(new DdlStep(IndexKind, $"{table.Destination}.{name}",
                        $"CREATE UNIQUE INDEX {Identifier.Quote(name)} ON {table.Destination.Sql} ({key.Groups["columns"].Value})") { Table = table.Destination });
                    indexes.Add(new DdlStep(kind, $"{table.Destination}.{name}",
                        $"ALTER TABLE {table.Destination.Sql} ADD CONSTRAINT {Identifier.Quote(name)} {key.Groups["type"].Value} USING INDEX {Identifier.Quote(name)}") { Table = table.Destination });
                    continue;
                }
                indexes.Add(new DdlStep(kind, $"{table.Destination}.{name}",
                    $"ALTER TABLE {table.Destination.Sql} ADD CONSTRAINT {Identifier.Quote(name)} {definition}") { Table = table.Destination });
            }
            indexes.AddRange(IndexSteps(scope, table));
            if (scope.DatabaseLevel)
                triggers.AddRange(table.Source.Triggers.Select(t => new DdlStep("Trigger", $"{table.Destination}.{t.Name}", scope.Renamer.Rename(t.Definition)) { Table = table.Destination }));
        }
        foreach (var sequence in scope.Sequences.Where(s => s.OwnedBy is not null))
        {
            var (ownerTable, column) = sequence.OwnedBy!.Value;
            if (scope.Find(ownerTable) is not { } owner || !owner.ColumnNames.TryGetValue(column, out var destColumn) || existingTables.Contains(owner.Destination)) continue;
            tables.Add(new DdlStep("SequenceOwner", sequence.Name.ToString(),
                $"ALTER SEQUENCE {SequenceName(scope, sequence).Sql} OWNED BY {owner.Destination.Sql}.{Identifier.Quote(destColumn)}"));
        }
        foreach (var view in scope.Tables.Where(t => t.Source.IsView))
        {
            if (existingTables.Contains(view.Destination)) continue;
            var options = view.Source.Options.Count > 0 ? $" WITH ({string.Join(", ", view.Source.Options)})" : "";
            var body = scope.Renamer.Rename(view.Source.ViewDefinition!.TrimEnd().TrimEnd(';'));
            views.Add(view.Source.Kind == 'm'
                ? new DdlStep("MaterializedView", view.Destination.ToString(), $"CREATE MATERIALIZED VIEW {view.Destination.Sql}{options} AS {body} WITH NO DATA") { Table = view.Destination }
                : new DdlStep("View", view.Destination.ToString(), $"CREATE VIEW {view.Destination.Sql}{options} AS {body}") { Table = view.Destination });
            if (view.Source.Kind == 'm') views.AddRange(IndexSteps(scope, view));
        }
        return new SchemaPlan
        {
            Namespaces = namespaces.DistinctBy(s => s.Sql).ToList(), Types = types, Functions = functions, Sequences = sequences, Tables = tables,
            Indexes = indexes, ForeignKeys = foreignKeys, Views = views, Triggers = triggers, Skipped = skipped,
        };
    }

    /// <summary>
    /// The reference documents' rule for index and constraint names on mapped tables, so names from different source
    /// tables cannot collide: i_/c_ + a hash of schema_table_name + the original name (cut to fit) + _key.
    /// Names on unmapped tables are kept.
    /// </summary>
    public static string MappedName(char kind, ScopedTable table, string name)
    {
        if (table.Destination == table.Name) return name;
        var hash = Convert.ToHexString(MD5.HashData(Encoding.UTF8.GetBytes($"{table.Name.Schema}_{table.Name.Name}_{name}")))[..8].ToLowerInvariant();
        var prefix = $"{kind}_{hash}";
        const string suffix = "_key";
        var room = 63 - prefix.Length - suffix.Length;
        var kept = name;
        while (Encoding.UTF8.GetByteCount(kept) > room) kept = kept[..^1];
        return prefix + kept + suffix;
    }

    public static string ColumnType(TaskScope scope, ColumnInfo column) =>
        column.UserTypeSchema is null
            ? column.TypeText
            : new QualifiedName(scope.MapSchema(column.UserTypeSchema), column.UserTypeName!).Sql + (column.IsArray ? "[]" : "");

    public static QualifiedName SequenceName(TaskScope scope, SequenceInfo sequence) => new(scope.MapSchema(sequence.Name.Schema), sequence.Name.Name);

    private static IReadOnlyDictionary<string, string> RenamedColumns(ScopedTable table) =>
        table.ColumnNames.Where(kv => kv.Key != kv.Value).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    private static IEnumerable<ScopedTable> OrderByPartitionDepth(IEnumerable<ScopedTable> tables)
    {
        var list = tables.ToList();
        var byName = list.ToDictionary(t => t.Name);
        int Depth(ScopedTable t) => t.Source.PartitionParent is { } p && byName.TryGetValue(p, out var parent) ? 1 + Depth(parent) : 0;
        return list.OrderBy(Depth).ThenBy(t => t.Name);
    }

    /// <summary>A built-in collation keeps its name; one made in a user schema lives in that schema's mapped name.</summary>
    private static QualifiedName MappedCollation(TaskScope scope, QualifiedName collation) =>
        collation.Schema == "pg_catalog" ? collation : new QualifiedName(scope.MapSchema(collation.Schema), collation.Name);

    /// <summary>CREATE COLLATION for <paramref name="collation"/> under the destination name <paramref name="name"/>.</summary>
    internal static string CollationDdl(QualifiedName name, CollationInfo collation)
    {
        var options = new List<string>();
        if (collation.Provider == 'i')
        {
            options.Add("provider = icu");
            options.Add($"locale = {Identifier.Literal(collation.IcuLocale ?? collation.Collate ?? "")}");
            if (!string.IsNullOrEmpty(collation.IcuRules)) options.Add($"rules = {Identifier.Literal(collation.IcuRules)}");
        }
        else if (collation.Provider == 'b')
        {
            options.Add("provider = builtin");
            options.Add($"locale = {Identifier.Literal(collation.IcuLocale ?? "C")}");
        }
        else
        {
            options.Add("provider = libc");
            options.Add($"lc_collate = {Identifier.Literal(collation.Collate ?? "C")}");
            options.Add($"lc_ctype = {Identifier.Literal(collation.Ctype ?? collation.Collate ?? "C")}");
        }
        if (!collation.Deterministic) options.Add("deterministic = false");
        return $"CREATE COLLATION IF NOT EXISTS {name.Sql} ({string.Join(", ", options)})";
    }

    private static string TableDdl(TaskScope scope, ScopedTable table)
    {
        var source = table.Source;
        var unlogged = source.Persistence == 'u' ? "UNLOGGED " : "";
        if (source.PartitionParent is { } parentName && scope.Find(parentName) is { } parent)
            return $"CREATE {unlogged}TABLE {table.Destination.Sql} PARTITION OF {parent.Destination.Sql} {source.PartitionBound}";
        var renamed = RenamedColumns(table);
        var columns = table.Columns.Select(c =>
        {
            var sb = new StringBuilder().Append(Identifier.Quote(table.DestinationColumn(c.Name))).Append(' ').Append(ColumnType(scope, c));
            if (c.Collation is { } collation) sb.Append(" COLLATE ").Append(MappedCollation(scope, collation).Sql);
            if (c.Generated is not null) sb.Append(" GENERATED ALWAYS AS (").Append(scope.Renamer.Rename(c.Generated, renamed)).Append(") STORED");
            else if (c.Identity is not null) sb.Append(IdentityClause(scope, table, c));
            else if (c.Default is not null) sb.Append(" DEFAULT ").Append(scope.Renamer.Rename(c.Default));
            if (c.NotNull) sb.Append(" NOT NULL");
            return sb.ToString();
        });
        var partition = source.PartitionKey is null ? "" : $" PARTITION BY {scope.Renamer.Rename(source.PartitionKey, renamed)}";
        return $"CREATE {unlogged}TABLE {table.Destination.Sql} (\n    {string.Join(",\n    ", columns)}\n){partition}";
    }

    private static string IdentityClause(TaskScope scope, ScopedTable table, ColumnInfo column)
    {
        var kind = column.Identity == "a" ? "ALWAYS" : "BY DEFAULT";
        var sequence = scope.Catalog.Sequences.FirstOrDefault(s => s.IsIdentity && s.OwnedBy is { } o && o.Table == table.Name && o.Column == column.Name);
        if (sequence is null) return $" GENERATED {kind} AS IDENTITY";
        return string.Create(CultureInfo.InvariantCulture,
            $" GENERATED {kind} AS IDENTITY (INCREMENT BY {sequence.Increment} MINVALUE {sequence.Min} MAXVALUE {sequence.Max} START WITH {sequence.Start} CACHE {sequence.Cache}{(sequence.Cycle ? " CYCLE" : "")})");
    }

    private static string SequenceDdl(TaskScope scope, SequenceInfo s) => string.Create(CultureInfo.InvariantCulture,
        $"CREATE SEQUENCE IF NOT EXISTS {SequenceName(scope, s).Sql} AS {s.DataType} INCREMENT BY {s.Increment} MINVALUE {s.Min} MAXVALUE {s.Max} START WITH {s.Start} CACHE {s.Cache}{(s.Cycle ? " CYCLE" : " NO CYCLE")}");

    private static string TypeDdl(TaskScope scope, TypeInfo type)
    {
        var name = new QualifiedName(scope.MapSchema(type.Name.Schema), type.Name.Name).Sql;
        return type.Kind switch
        {
            'e' => $"CREATE TYPE {name} AS ENUM ({string.Join(", ", type.EnumLabels.Select(Identifier.Literal))})",
            'c' => $"CREATE TYPE {name} AS ({string.Join(", ", type.Attributes.Select(a => $"{Identifier.Quote(a.Name)} {scope.Renamer.Rename(a.Type)}"))})",
            'r' => $"CREATE TYPE {name} AS RANGE (SUBTYPE = {scope.Renamer.Rename(type.BaseType!)})",
            'd' => $"CREATE DOMAIN {name} AS {scope.Renamer.Rename(type.BaseType!)}"
                   + (type.Default is null ? "" : $" DEFAULT {scope.Renamer.Rename(type.Default)}")
                   + (type.NotNull ? " NOT NULL" : "")
                   + string.Concat(type.Checks.Select(c => " " + scope.Renamer.Rename(c))),
            _ => throw new NotSupportedException($"Type kind '{type.Kind}' of {type.Name} is not supported."),
        };
    }

    private static string FunctionDdl(TaskScope scope, FunctionInfo function)
    {
        // pg_get_functiondef starts "CREATE OR REPLACE FUNCTION schema.name(": map the header's name only; bodies are kept as written.
        var definition = function.Definition;
        var headerEnd = definition.IndexOf('(');
        return headerEnd < 0 ? definition : scope.Renamer.Rename(definition[..headerEnd]) + definition[headerEnd..];
    }

    private static IEnumerable<DdlStep> IndexSteps(TaskScope scope, ScopedTable table)
    {
        var renamed = RenamedColumns(table);
        foreach (var index in table.Source.Indexes)
        {
            var name = MappedName('i', table, index.Name);
            var unique = index.Definition.StartsWith("CREATE UNIQUE INDEX ", StringComparison.Ordinal);
            var head = (unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ") + index.QuotedName + " ON ";
            if (!index.Definition.StartsWith(head, StringComparison.Ordinal)) continue;
            var rest = index.Definition[head.Length..];
            var only = rest.StartsWith("ONLY ", StringComparison.Ordinal);
            if (only) rest = rest[5..];
            if (!rest.StartsWith(index.QuotedTable, StringComparison.Ordinal)) continue;
            rest = scope.Renamer.Rename(rest[index.QuotedTable.Length..], renamed);
            yield return new DdlStep(IndexKind, $"{table.Destination}.{name}",
                $"{(unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ")}{Identifier.Quote(name)} ON {(only ? "ONLY " : "")}{table.Destination.Sql}{rest}") { Table = table.Destination };
        }
    }

    private static string? ForeignKeyDdl(TaskScope scope, ScopedTable table, ConstraintInfo fk, string name)
    {
        if (fk.ReferencedTable is not { } referenced || scope.Find(referenced) is not { } target) return null;
        if (fk.Columns.Any(c => !table.ColumnNames.ContainsKey(c)) || fk.ReferencedColumns.Any(c => !target.ColumnNames.ContainsKey(c))) return null;
        static string Action(char a) => a switch { 'r' => "RESTRICT", 'c' => "CASCADE", 'n' => "SET NULL", 'd' => "SET DEFAULT", _ => "NO ACTION" };
        var sql = new StringBuilder()
            .Append($"ALTER TABLE {table.Destination.Sql} ADD CONSTRAINT {Identifier.Quote(name)} FOREIGN KEY (")
            .Append(string.Join(", ", fk.Columns.Select(c => Identifier.Quote(table.DestinationColumn(c)))))
            .Append($") REFERENCES {target.Destination.Sql} (")
            .Append(string.Join(", ", fk.ReferencedColumns.Select(c => Identifier.Quote(target.DestinationColumn(c)))))
            .Append(')');
        if (fk.MatchType == 'f') sql.Append(" MATCH FULL");
        sql.Append(" ON UPDATE ").Append(Action(fk.OnUpdate)).Append(" ON DELETE ").Append(Action(fk.OnDelete));
        if (fk.Deferrable) sql.Append(" DEFERRABLE").Append(fk.InitiallyDeferred ? " INITIALLY DEFERRED" : " INITIALLY IMMEDIATE");
        if (!fk.Validated) sql.Append(" NOT VALID");
        return sql.ToString();
    }
}
