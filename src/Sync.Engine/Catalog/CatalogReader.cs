using Npgsql;
using Sync.Engine.Connections;

namespace Sync.Engine.Catalog;

/// <summary>
/// Reads the source's catalogs (no pg_dump: the module must work where no client tools are installed). Run inside
/// the task's snapshot transaction; the session's search_path is pg_catalog so that every non-built-in name in
/// generated text (types, defaults, view bodies) comes out schema-qualified and can be mapped.
/// </summary>
public static class CatalogReader
{
    /// <summary>Schemas never synchronized (the reference documents' list plus PostgreSQL's own).</summary>
    public static readonly IReadOnlySet<string> SystemSchemas = new HashSet<string>(StringComparer.Ordinal)
        { "pg_catalog", "information_schema", "pg_toast", "sys", "utl_raw", "dbms_lob", "dbms_output", "dbms_random" };

    private const string UserSchemaFilter =
        "n.nspname NOT IN ('pg_catalog','information_schema','sys','utl_raw','dbms_lob','dbms_output','dbms_random') AND n.nspname NOT LIKE 'pg\\_%'";

    /// <summary>Tasks' helper tables in schema sync: sync_&lt;name&gt;_&lt;id&gt;_&lt;suffix&gt;, the suffix cut short for long names.</summary>
    internal const string HelperTablePattern = "^sync_[a-z0-9_]*_[0-9a-f]{8}_[a-z]*$";

    private const string NotExtensionMember =
        "NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.objid = {0} AND dep.classid = {1}::regclass AND dep.deptype = 'e')";

    public static async Task<CatalogSnapshot> ReadAsync(NpgsqlConnection connection, bool includeFunctions, CancellationToken ct)
    {
        await connection.ExecuteAsync("SET search_path = pg_catalog", ct).ConfigureAwait(false);
        var version = connection.PostgreSqlVersion.Major;
        var schemas = await ReadListAsync(connection, $"SELECT n.nspname FROM pg_namespace n WHERE {UserSchemaFilter} ORDER BY 1", r => r.GetString(0), ct).ConfigureAwait(false);
        var extensions = await ReadListAsync(connection,
            "SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql' ORDER BY 1",
            r => (r.GetString(0), r.GetString(1)), ct).ConfigureAwait(false);
        var types = await ReadTypesAsync(connection, ct).ConfigureAwait(false);
        var collations = await ReadCollationsAsync(connection, version, ct).ConfigureAwait(false);
        var sequences = await ReadSequencesAsync(connection, ct).ConfigureAwait(false);
        var tables = await ReadTablesAsync(connection, version, ct).ConfigureAwait(false);
        var functions = includeFunctions ? await ReadFunctionsAsync(connection, version, ct).ConfigureAwait(false) : [];
        return new CatalogSnapshot
        {
            ServerVersion = version, Schemas = schemas, Extensions = extensions, Types = types, Collations = collations, Sequences = sequences, Tables = tables, Functions = functions,
        };
    }

    private static async Task<List<TableInfo>> ReadTablesAsync(NpgsqlConnection connection, int version, CancellationToken ct)
    {
        var tables = await ReadListAsync(connection, $"""
            SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relpersistence::text, c.relreplident::text, c.relpages::bigint,
                   c.reltuples::float8, pg_relation_size(c.oid),
                   CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
                   CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
                   pn.nspname, pc.relname,
                   CASE WHEN c.relkind IN ('v','m') THEN pg_get_viewdef(c.oid) END,
                   coalesce(c.reloptions, ARRAY[]::text[])
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition
            LEFT JOIN pg_class pc ON pc.oid = i.inhparent
            LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace
            WHERE c.relkind IN ('r','p','v','m') AND c.relpersistence <> 't' AND {UserSchemaFilter}
              AND {string.Format(NotExtensionMember, "c.oid", "'pg_class'")}
              -- Tasks' helper tables (copy progress, checkpoint, heartbeat) are never the task's data.
              AND NOT (n.nspname = 'sync' AND c.relname ~ '{HelperTablePattern}')
            ORDER BY n.nspname, c.relname
            """, r => new TableInfo
        {
            Oid = r.GetFieldValue<uint>(0),
            Name = new QualifiedName(r.GetString(1), r.GetString(2)),
            Kind = r.GetString(3)[0],
            Persistence = r.GetString(4)[0],
            ReplicaIdentity = r.GetString(5)[0],
            Pages = r.GetInt64(6),
            EstimatedRows = Math.Max(0, r.GetDouble(7)),
            SizeBytes = r.GetInt64(8),
            PartitionKey = r.IsDBNull(9) ? null : r.GetString(9),
            PartitionBound = r.IsDBNull(10) ? null : r.GetString(10),
            PartitionParent = r.IsDBNull(11) ? null : new QualifiedName(r.GetString(11), r.GetString(12)),
            ViewDefinition = r.IsDBNull(13) ? null : r.GetString(13),
            Options = r.GetFieldValue<string[]>(14),
        }, ct).ConfigureAwait(false);

        var columns = (await ReadListAsync(connection, $"""
            SELECT a.attrelid, a.attnum, a.attname, a.atttypid, format_type(a.atttypid, a.atttypmod),
                   CASE WHEN bt.oid >= 16384 THEN btn.nspname END, CASE WHEN bt.oid >= 16384 THEN bt.typname END,
                   t.typcategory = 'A', a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
                   nullif(a.attidentity::text, ''), {(version >= 12 ? "CASE WHEN a.attgenerated = 's' THEN pg_get_expr(ad.adbin, ad.adrelid) END" : "NULL::text")},
                   CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 THEN cn.nspname END,
                   (rt.typtype = 'c' OR (t.typcategory = 'A' AND et.oid >= 10000) OR rt.typsend = 0 OR rt.typreceive = 0
                    OR (rt.oid < 10000 AND rt.typname LIKE 'reg%')
                    OR (rt.typcategory = 'A' AND EXISTS (SELECT 1 FROM pg_type x WHERE x.oid = rt.typelem
                        AND (x.oid >= 10000 OR x.typtype = 'c' OR x.typname LIKE 'reg%' OR x.typsend = 0 OR x.typreceive = 0)))),
                   t.typlen = -1 AND t.typstorage <> 'p',
                   co.collname, rt.oid, CASE WHEN rt.typtype = 'e' THEN rtn.nspname END, rt.typname
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
            JOIN pg_type bt ON bt.oid = coalesce(et.oid, t.oid)
            JOIN pg_namespace btn ON btn.oid = bt.typnamespace
            JOIN pg_type rt ON rt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
            JOIN pg_namespace rtn ON rtn.oid = rt.typnamespace
            LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
            LEFT JOIN pg_collation co ON co.oid = a.attcollation
            LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
            WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r','p','v','m') AND {UserSchemaFilter}
            ORDER BY a.attrelid, a.attnum
            """, r => (Table: r.GetFieldValue<uint>(0), Column: new ColumnInfo
        {
            Number = r.GetInt16(1),
            Name = r.GetString(2),
            TypeOid = r.GetFieldValue<uint>(3),
            TypeText = r.GetString(4),
            UserTypeSchema = r.IsDBNull(5) ? null : r.GetString(5),
            UserTypeName = r.IsDBNull(6) ? null : r.GetString(6),
            IsArray = r.GetBoolean(7),
            NotNull = r.GetBoolean(8),
            Generated = r.IsDBNull(11) ? null : r.GetString(11),
            Default = r.IsDBNull(11) && !r.IsDBNull(9) ? r.GetString(9) : null,
            Identity = r.IsDBNull(10) ? null : r.GetString(10),
            Collation = r.IsDBNull(12) ? null : new QualifiedName(r.GetString(12), r.GetString(15)),
            NeedsTextCopy = r.GetBoolean(13),
            Toastable = r.GetBoolean(14),
            ValueTypeOid = r.GetFieldValue<uint>(16),
            EnumType = r.IsDBNull(17) ? null : new QualifiedName(r.GetString(17), r.GetString(18)),
        }), ct).ConfigureAwait(false)).ToLookup(x => x.Table, x => x.Column);

        var constraints = (await ReadListAsync(connection, $"""
            SELECT con.conrelid, con.conname, con.contype::text, pg_get_constraintdef(con.oid),
                   ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o),
                   fn.nspname, fc.relname,
                   ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o),
                   con.confupdtype::text, con.confdeltype::text, con.confmatchtype::text, con.condeferrable, con.condeferred, con.convalidated
            FROM pg_constraint con
            JOIN pg_class c ON c.oid = con.conrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_class fc ON fc.oid = con.confrelid
            LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
            WHERE con.contype IN ('p','u','c','f','x') AND con.conislocal {(version >= 11 ? "AND con.conparentid = 0" : "")} AND {UserSchemaFilter}
            ORDER BY con.conrelid, con.contype, con.conname
            """, r => (Table: r.GetFieldValue<uint>(0), Constraint: new ConstraintInfo
        {
            Name = r.GetString(1),
            Type = r.GetString(2)[0],
            Definition = r.GetString(3),
            Columns = r.IsDBNull(4) ? [] : r.GetFieldValue<string[]>(4),
            ReferencedTable = r.IsDBNull(5) ? null : new QualifiedName(r.GetString(5), r.GetString(6)),
            ReferencedColumns = r.IsDBNull(7) ? [] : r.GetFieldValue<string[]>(7),
            OnUpdate = r.GetString(8)[0],
            OnDelete = r.GetString(9)[0],
            MatchType = r.GetString(10)[0],
            Deferrable = r.GetBoolean(11),
            InitiallyDeferred = r.GetBoolean(12),
            Validated = r.GetBoolean(13),
        }), ct).ConfigureAwait(false)).ToLookup(x => x.Table, x => x.Constraint);

        var indexes = (await ReadListAsync(connection, $"""
            SELECT i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid), quote_ident(ic.relname),
                   quote_ident(n.nspname) || '.' || quote_ident(c.relname)
            FROM pg_index i
            JOIN pg_class ic ON ic.oid = i.indexrelid
            JOIN pg_class c ON c.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE {UserSchemaFilter}
              AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.contype IN ('p','u','x'))
              AND NOT EXISTS (SELECT 1 FROM pg_inherits ih WHERE ih.inhrelid = i.indexrelid)
            ORDER BY i.indrelid, ic.relname
            """, r => (Table: r.GetFieldValue<uint>(0), Index: new IndexInfo
        {
            Name = r.GetString(1), Definition = r.GetString(2), QuotedName = r.GetString(3), QuotedTable = r.GetString(4),
        }), ct).ConfigureAwait(false)).ToLookup(x => x.Table, x => x.Index);

        var triggers = (await ReadListAsync(connection, $"""
            SELECT t.tgrelid, t.tgname, pg_get_triggerdef(t.oid)
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT t.tgisinternal AND {UserSchemaFilter} {(version >= 13 ? "AND t.tgparentid = 0" : "")}
            ORDER BY t.tgrelid, t.tgname
            """, r => (Table: r.GetFieldValue<uint>(0), Trigger: (r.GetString(1), r.GetString(2))), ct).ConfigureAwait(false))
            .ToLookup(x => x.Table, x => x.Trigger);

        return tables.Select(t => t with
        {
            Columns = columns[t.Oid].ToArray(),
            Constraints = constraints[t.Oid].ToArray(),
            Indexes = indexes[t.Oid].ToArray(),
            Triggers = triggers[t.Oid].ToArray(),
        }).ToList();
    }

    private static async Task<List<CollationInfo>> ReadCollationsAsync(NpgsqlConnection connection, int version, CancellationToken ct)
    {
        var icuLocale = version >= 17 ? "c.colllocale" : version >= 15 ? "c.colliculocale" : "NULL::text";
        var deterministic = version >= 12 ? "c.collisdeterministic" : "true";
        var rules = version >= 16 ? "c.collicurules" : "NULL::text";
        return await ReadListAsync(connection, $"""
            SELECT n.nspname, c.collname, c.collprovider::text, {deterministic}, c.collcollate, c.collctype, {icuLocale}, {rules}
            FROM pg_collation c
            JOIN pg_namespace n ON n.oid = c.collnamespace
            WHERE {UserSchemaFilter} AND {string.Format(NotExtensionMember, "c.oid", "'pg_collation'")}
            ORDER BY 1, 2
            """, r => new CollationInfo
        {
            Name = new QualifiedName(r.GetString(0), r.GetString(1)),
            Provider = r.GetString(2)[0],
            Deterministic = r.GetBoolean(3),
            Collate = r.IsDBNull(4) ? null : r.GetString(4),
            Ctype = r.IsDBNull(5) ? null : r.GetString(5),
            IcuLocale = r.IsDBNull(6) ? null : r.GetString(6),
            IcuRules = r.IsDBNull(7) ? null : r.GetString(7),
        }, ct).ConfigureAwait(false);
    }

    private static async Task<List<SequenceInfo>> ReadSequencesAsync(NpgsqlConnection connection, CancellationToken ct) =>
        await ReadListAsync(connection, $"""
            SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
                   own_n.nspname, own_c.relname, own_a.attname, d.deptype = 'i',
                   -- A sequence the user may not read must not fail the whole catalog read (the precheck names it).
                   CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE') THEN pg_sequence_last_value(c.oid) END
            FROM pg_sequence s
            JOIN pg_class c ON c.oid = s.seqrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a','i')
            LEFT JOIN pg_class own_c ON own_c.oid = d.refobjid
            LEFT JOIN pg_namespace own_n ON own_n.oid = own_c.relnamespace
            LEFT JOIN pg_attribute own_a ON own_a.attrelid = d.refobjid AND own_a.attnum = d.refobjsubid
            WHERE {UserSchemaFilter} AND {string.Format(NotExtensionMember, "c.oid", "'pg_class'")}
            ORDER BY 1, 2
            """, r => new SequenceInfo
        {
            Name = new QualifiedName(r.GetString(0), r.GetString(1)),
            DataType = r.GetString(2),
            Start = r.GetInt64(3),
            Increment = r.GetInt64(4),
            Min = r.GetInt64(5),
            Max = r.GetInt64(6),
            Cache = r.GetInt64(7),
            Cycle = r.GetBoolean(8),
            OwnedBy = r.IsDBNull(9) ? null : (new QualifiedName(r.GetString(9), r.GetString(10)), r.GetString(11)),
            IsIdentity = !r.IsDBNull(12) && r.GetBoolean(12),
            LastValue = r.IsDBNull(13) ? null : r.GetInt64(13),
        }, ct).ConfigureAwait(false);

    private static async Task<List<TypeInfo>> ReadTypesAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var types = await ReadListAsync(connection, $"""
            SELECT t.oid, n.nspname, t.typname, t.typtype::text,
                   ARRAY(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder),
                   ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
                   ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
                   CASE t.typtype WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod) WHEN 'r' THEN (SELECT format_type(rg.rngsubtype, NULL) FROM pg_range rg WHERE rg.rngtypid = t.oid) END,
                   t.typnotnull, t.typdefault,
                   ARRAY(SELECT pg_get_constraintdef(con.oid) FROM pg_constraint con WHERE con.contypid = t.oid ORDER BY con.conname)
            FROM pg_type t
            JOIN pg_namespace n ON n.oid = t.typnamespace
            LEFT JOIN pg_class c ON c.oid = t.typrelid
            WHERE t.typtype IN ('e','c','d','r') AND (t.typtype <> 'c' OR c.relkind = 'c') AND {UserSchemaFilter}
              AND {string.Format(NotExtensionMember, "t.oid", "'pg_type'")}
            ORDER BY t.oid
            """, r => new TypeInfo
        {
            Name = new QualifiedName(r.GetString(1), r.GetString(2)),
            Kind = r.GetString(3)[0],
            EnumLabels = r.GetFieldValue<string[]>(4),
            Attributes = r.GetFieldValue<string[]>(5).Zip(r.GetFieldValue<string[]>(6)).ToArray(),
            BaseType = r.IsDBNull(7) ? null : r.GetString(7),
            NotNull = r.GetBoolean(8),
            Default = r.IsDBNull(9) ? null : r.GetString(9),
            Checks = r.GetFieldValue<string[]>(10),
        }, ct).ConfigureAwait(false);
        return types;
    }

    private static async Task<List<FunctionInfo>> ReadFunctionsAsync(NpgsqlConnection connection, int version, CancellationToken ct) =>
        await ReadListAsync(connection, $"""
            SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)
            FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace
            JOIN pg_language l ON l.oid = p.prolang
            WHERE {UserSchemaFilter} AND l.lanname NOT IN ('c', 'internal')
              AND {(version >= 11 ? "p.prokind IN ('f','p')" : "NOT p.proisagg AND NOT p.proiswindow")}
              AND {string.Format(NotExtensionMember, "p.oid", "'pg_proc'")}
            ORDER BY p.oid
            """, r => new FunctionInfo(new QualifiedName(r.GetString(0), r.GetString(1)), r.GetString(2), r.GetString(3)), ct).ConfigureAwait(false);

    private static async Task<List<T>> ReadListAsync<T>(NpgsqlConnection connection, string sql, Func<NpgsqlDataReader, T> map, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var list = new List<T>();
        while (await reader.ReadAsync(ct).ConfigureAwait(false)) list.Add(map(reader));
        return list;
    }
}
