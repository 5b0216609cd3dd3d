using Npgsql;
using Sync.Engine.Connections;
using Sync.Engine.Catalog;
using Sync.Engine.Schema;

namespace Sync.Engine.Runtime;

/// <summary>Sets destination sequences (plain, serial and identity) to the source's current values, plus a margin.</summary>
public static class SourceSequences
{
    public static async Task<int> CopyValuesAsync(NpgsqlDataSource source, NpgsqlDataSource destination, TaskScope scope, long margin, CancellationToken ct)
    {
        var targets = new List<(SequenceInfo Sequence, string DestinationExpression)>();
        foreach (var sequence in scope.Sequences)
            targets.Add((sequence, Identifier.Literal(SchemaBuilder.SequenceName(scope, sequence).Sql) + "::regclass"));
        foreach (var identity in scope.Catalog.Sequences.Where(s => s.IsIdentity && s.OwnedBy is not null))
        {
            var (table, column) = identity.OwnedBy!.Value;
            if (scope.Find(table) is not { } scoped || !scoped.ColumnNames.TryGetValue(column, out var destColumn)) continue;
            targets.Add((identity, $"pg_get_serial_sequence({Identifier.Literal(scoped.Destination.Sql)}, {Identifier.Literal(destColumn)})::regclass"));
        }
        if (targets.Count == 0) return 0;
        await using var src = await source.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var dst = await destination.OpenConnectionAsync(ct).ConfigureAwait(false);
        var set = 0;
        foreach (var (sequence, destinationExpression) in targets)
        {
            long lastValue;
            bool isCalled;
            await using (var read = new NpgsqlCommand($"SELECT last_value, is_called FROM {sequence.Name.Sql}", src))
            await using (var reader = await read.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                await reader.ReadAsync(ct).ConfigureAwait(false);
                lastValue = reader.GetInt64(0);
                isCalled = reader.GetBoolean(1);
            }
            if (!isCalled && margin == 0)
            {
                await dst.ExecuteAsync($"SELECT setval({destinationExpression}, $1, false)", ct, lastValue).ConfigureAwait(false);
            }
            else
            {
                // Ahead of the source by the margin (behind for descending sequences), so rows written on the source
                // after this point cannot collide with values handed out on the destination.
                var value = (long)Math.Clamp((decimal)lastValue + Math.Sign(sequence.Increment) * (decimal)margin, sequence.Min, sequence.Max);
                await dst.ExecuteAsync($"SELECT setval({destinationExpression}, $1, true)", ct, value).ConfigureAwait(false);
            }
            set++;
        }
        return set;
    }
}
