using System.Buffers;
using System.Runtime.CompilerServices;
using Npgsql.Replication;
using Npgsql.Replication.Internal;
using NpgsqlTypes;

namespace Sync.Engine.Stream;

/// <summary>
/// Reads the task's slot through pgoutput and turns each message into a <see cref="StreamEvent"/> with
/// <see cref="PgOutputParser"/>, copying every value out of the driver's buffer before the next message is requested.
/// Protocol version 1 (PostgreSQL 10+) in text format; logical decoding messages (PostgreSQL 14+) when asked for; with a
/// <paramref name="spoolDirectory"/> (PostgreSQL 14+), protocol 2 with large transactions streamed while in progress
/// and gathered in <see cref="StreamedTransactionSpool"/> until they commit.
/// </summary>
public sealed class PgOutputReader(LogicalReplicationConnection connection, string slotName, string publication, bool messages, string? spoolDirectory = null)
{
    public async IAsyncEnumerable<StreamEvent> ReadAsync(SyncLsn? start, [EnumeratorCancellation] CancellationToken ct)
    {
        var slot = new Slot(slotName);
        var options = new List<KeyValuePair<string, string?>>
        {
            new("proto_version", spoolDirectory is null ? "1" : "2"),
            // pgoutput splits the list like identifiers: a quoted name is taken as written.
            new("publication_names", Catalog.Identifier.Quote(publication)),
        };
        if (messages) options.Add(new("messages", "true"));
        if (spoolDirectory is not null) options.Add(new("streaming", "on"));
        using var spool = spoolDirectory is null ? null : new StreamedTransactionSpool(spoolDirectory);
        var stream = connection.StartLogicalReplication(slot, ct, start is { IsValid: true } s ? new NpgsqlLogSequenceNumber(s.Value) : null, options);
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            await foreach (var message in stream.WithCancellation(ct).ConfigureAwait(false))
            {
                var length = 0;
                while (true)
                {
                    if (length == buffer.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, length).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }
                    var read = await message.Data.ReadAsync(buffer.AsMemory(length), ct).ConfigureAwait(false);
                    if (read == 0) break;
                    length += read;
                }
                var walEnd = new SyncLsn((ulong)message.WalEnd);
                if (spool is not null && length > 0 && spool.TryTake(buffer.AsSpan(0, length), out var committed))
                {
                    if (committed is not null)
                        foreach (var replayed in committed) yield return replayed with { ServerWalEnd = walEnd };
                    continue;
                }
                var decoded = PgOutputParser.Parse(buffer.AsSpan(0, length));
                if (decoded is not null) yield return decoded with { ServerWalEnd = walEnd };
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reports what is durably applied: the server may then recycle WAL up to it.</summary>
    public void Confirm(SyncLsn lsn) => connection.SetReplicationStatus(new NpgsqlLogSequenceNumber(lsn.Value));

    private sealed class Slot(string name) : LogicalReplicationSlot("pgoutput", new ReplicationSlotOptions(name));
}
