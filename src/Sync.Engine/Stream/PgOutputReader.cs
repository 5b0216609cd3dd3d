using System.Buffers;
using Npgsql;
using System.Runtime.CompilerServices;
using Npgsql.Replication;
using Npgsql.Replication.Internal;
using NpgsqlTypes;

namespace Sync.Engine.Stream;

/// <summary>
/// Reads the task's slot through pgoutput and turns each message into a <see cref="StreamEvent"/> with
/// <see cref="PgOutputParser"/>, copying every value out of the driver's buffer before the next message is requested.
/// Protocol version 1 (PostgreSQL 10+) in text format, or binary where asked (PostgreSQL 14+, <see cref="StreamFormat"/>);
/// logical decoding messages (PostgreSQL 14+) when asked for; with a
/// <paramref name="spoolDirectory"/> (PostgreSQL 14+), protocol 2 with large transactions streamed while in progress
/// and gathered in <see cref="StreamedTransactionSpool"/> until they commit.
/// </summary>
/// <remarks>
/// The source's walsender sends every message as it is decoded, so a transaction arrives in several pieces. A reader
/// that waits on the socket for each one is woken several times per transaction, and on a small machine those wake-ups
/// were most of the worker's CPU (docs/benchmarks.md). So once the reader has caught up and the socket wakes it, it
/// first lets the stream gather for <see cref="Gather"/>, then reads everything that arrived in one go. With the
/// socket at hand (<see cref="QuietSocket"/>) the pause is a wait on the socket itself, which blocks the pool thread
/// running the reader for at most that long (a stop is seen after it): a timer for it woke the runtime's timer thread
/// twice and a pool thread once per pause.
/// </remarks>
public sealed class PgOutputReader(LogicalReplicationConnection connection, string slotName, string publication, bool messages, string? spoolDirectory = null, bool binary = false)
{
    /// <summary>
    /// How long the reader lets the stream gather after it has caught up and more arrives: the latency a change gains at
    /// most, against one wake-up for each of a transaction's messages. It is also how long changes gather into one
    /// destination transaction at moderate rates: the applier commits when the reader has caught up.
    /// </summary>
    public static readonly TimeSpan Gather = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Set while the stream runs (from its first message until the read ends): only then may a status update go over the
    /// connection; the driver's feedback code throws a NullReferenceException while the stream is still starting.
    /// </summary>
    private volatile bool _streaming;

    /// <param name="start">Where to resume: the stream sends what committed after it (the slot's position when null).</param>
    /// <param name="ct">Ends the stream.</param>
    /// <param name="caughtUp">
    /// Called when everything the source has sent so far has been returned and the next read would wait, before it
    /// waits: the consumer hands its events over then. Only a reader given one lets the stream gather after it
    /// (a table sync's short catch-up reads without).
    /// </param>
    public async IAsyncEnumerable<StreamEvent> ReadAsync(SyncLsn? start, [EnumeratorCancellation] CancellationToken ct, Func<ValueTask>? caughtUp = null)
    {
        var slot = new Slot(slotName);
        var options = new List<KeyValuePair<string, string?>>
        {
            new("proto_version", spoolDirectory is null ? "1" : "2"),
            // pgoutput splits the list like identifiers: a quoted name is taken as written.
            new("publication_names", Catalog.Identifier.Quote(publication)),
        };
        if (messages) options.Add(new("messages", "true"));
        if (binary) options.Add(new("binary", "true"));
        if (spoolDirectory is not null) options.Add(new("streaming", "on"));
        using var spool = spoolDirectory is null ? null : new StreamedTransactionSpool(spoolDirectory);
        var stream = connection.StartLogicalReplication(slot, ct, start is { IsValid: true } s ? new NpgsqlLogSequenceNumber(s.Value) : null, options);
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var quiet = caughtUp is null ? null : QuietSocket.Of(connection);
        try
        {
            await using var messages = stream.GetAsyncEnumerator(ct);
            // Declared after the driver's stream, so disposed before it: from then on nothing may be sent on it.
            using var streaming = new StreamingFlag(this);
            while (true)
            {
                var more = messages.MoveNextAsync();
                if (more.IsCompleted)
                {
                    if (!more.GetAwaiter().GetResult()) break;
                }
                else
                {
                    if (caughtUp is null)
                    {
                        if (!await more.ConfigureAwait(false)) break;
                    }
                    else
                    {
                        await HandOverAsync(caughtUp, more).ConfigureAwait(false);
                        if (!await more.ConfigureAwait(false)) break;
                        // The first piece of what comes next has arrived: let the rest of it, and what follows, gather.
                        if (quiet is null) await Task.Delay(Gather, ct).ConfigureAwait(false);
                        else
                        {
                            quiet.Hold();
                            try { quiet.Wait(Gather); }
                            finally { quiet.Release(); }
                            ct.ThrowIfCancellationRequested();
                        }
                    }
                }
                var message = messages.Current;
                _streaming = true;
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
                if (decoded is null) continue;
                decoded.ServerWalEnd = walEnd;
                yield return decoded;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Runs the consumer's hand-over while a read is in flight; if the hand-over fails, the read is still awaited before the error goes on, so the stream is never disposed under it.</summary>
    private static async Task HandOverAsync(Func<ValueTask> caughtUp, ValueTask<bool> read)
    {
        try { await caughtUp().ConfigureAwait(false); }
        catch
        {
            try { await read.ConfigureAwait(false); }
            catch (Exception) { }
            throw;
        }
    }

    /// <summary>Reports what is durably applied: the server may then recycle WAL up to it.</summary>
    public void Confirm(SyncLsn lsn) => connection.SetReplicationStatus(new NpgsqlLogSequenceNumber(lsn.Value));

    /// <summary>
    /// <see cref="Confirm"/>, sent at once instead of at the next status interval (before the worker exits). Best effort:
    /// where the stream is gone, the slot keeps its older position and the next run skips what it already applied.
    /// </summary>
    public async Task ConfirmNowAsync(SyncLsn lsn, CancellationToken ct)
    {
        Confirm(lsn);
        // While the stream starts (a pause received as it opened) or after it ended there is nothing to send it on. The
        // slot keeps its older position, as after a lost stream, and the next run skips what it already applied.
        if (!_streaming) return;
        try { await connection.SendStatusUpdate(ct).ConfigureAwait(false); }
        catch (Exception e) when (e is NpgsqlException or IOException or InvalidOperationException or ObjectDisposedException) { }
    }

    /// <summary>Clears <see cref="_streaming"/> when the read ends, however it ends.</summary>
    private sealed class StreamingFlag(PgOutputReader reader) : IDisposable
    {
        public void Dispose() => reader._streaming = false;
    }

    private sealed class Slot(string name) : LogicalReplicationSlot("pgoutput", new ReplicationSlotOptions(name));
}
