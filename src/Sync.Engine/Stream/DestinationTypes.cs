using Npgsql;
using Sync.Engine.Catalog;
using Sync.Engine.Schema;

namespace Sync.Engine.Stream;

/// <summary>
/// The destination's own OIDs for the enums the task's columns hold (directly or through a domain), keyed by the
/// source's. An enum's send form is its label, so a binary value from the source reads as the destination's enum of
/// the same name; only its OID differs, and that is what a binary parameter names. An enum the destination lacks (or
/// has as another kind of type) is left out, and its columns stream in text.
/// </summary>
public sealed class DestinationTypes
{
    private readonly IReadOnlyDictionary<uint, (uint Oid, uint ArrayOid)> _enums;

    private DestinationTypes(IReadOnlyDictionary<uint, (uint Oid, uint ArrayOid)> enums) => _enums = enums;

    /// <summary>No enum known: their columns stream in text.</summary>
    public static DestinationTypes None { get; } = new(new Dictionary<uint, (uint, uint)>());

    /// <summary>The destination's enum and its array type for a source enum, or null when it has none of that name.</summary>
    public (uint Oid, uint ArrayOid)? Enum(uint sourceOid) => _enums.TryGetValue(sourceOid, out var found) ? found : null;

    /// <summary>
    /// Looks up each enum the columns hold (directly or through a domain) by its name on the destination, its schema
    /// mapped as the task maps schemas.
    /// </summary>
    public static async Task<DestinationTypes> ReadAsync(NpgsqlConnection destination, TaskScope scope, IEnumerable<ScopedTable> tables, CancellationToken ct)
    {
        var wanted = new Dictionary<uint, string>();
        foreach (var table in tables)
            foreach (var column in table.CopyColumns)
                if (column is { EnumType: { } type, IsArray: false }) wanted.TryAdd(column.ValueTypeOid, new QualifiedName(scope.MapSchema(type.Schema), type.Name).Sql);
        if (wanted.Count == 0) return None;
        var sources = wanted.Keys.ToArray();
        await using var command = new NpgsqlCommand("""
            SELECT w.ord, t.oid, t.typarray
            FROM unnest($1::text[]) WITH ORDINALITY AS w(name, ord)
            JOIN pg_type t ON t.oid = to_regtype(w.name)
            WHERE t.typtype = 'e'
            """, destination);
        command.Parameters.AddWithValue(sources.Select(s => wanted[s]).ToArray());
        var found = new Dictionary<uint, (uint, uint)>();
        await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
                found[sources[reader.GetInt64(0) - 1]] = (reader.GetFieldValue<uint>(1), reader.GetFieldValue<uint>(2));
        return new DestinationTypes(found);
    }
}
