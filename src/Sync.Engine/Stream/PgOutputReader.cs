using System.Runtime.CompilerServices;
using System.Text;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;

namespace Sync.Engine.Stream;

/// <summary>
/// Reads the task's slot through pgoutput and turns each message into a <see cref="StreamEvent"/>, copying every
/// value before the next message is requested. Protocol version 1 (PostgreSQL 10+) in text format; heartbeat
/// messages (PostgreSQL 14+) when asked for.
/// </summary>
public sealed class PgOutputReader(LogicalReplicationConnection connection, string slotName, string publication, bool messages)
{
    public async IAsyncEnumerable<StreamEvent> ReadAsync(SyncLsn? start, [EnumeratorCancellation] CancellationToken ct)
    {
        var slot = new PgOutputReplicationSlot(slotName);
        var options = new PgOutputReplicationOptions(publication, PgOutputProtocolVersion.V1, binary: null, streamingMode: null, messages: messages ? true : null, twoPhase: null);
        var stream = start is { IsValid: true } s
            ? connection.StartReplication(slot, options, ct, new NpgsqlLogSequenceNumber(s.Value))
            : connection.StartReplication(slot, options, ct);
        await foreach (var message in stream.WithCancellation(ct).ConfigureAwait(false))
        {
            var walEnd = new SyncLsn((ulong)message.WalEnd);
            StreamEvent? decoded = message switch
            {
                BeginMessage b => new BeginEvent(b.TransactionXid, new SyncLsn((ulong)b.TransactionFinalLsn), b.TransactionCommitTimestamp),
                CommitMessage c => new CommitEvent(new SyncLsn((ulong)c.CommitLsn), new SyncLsn((ulong)c.TransactionEndLsn), c.TransactionCommitTimestamp),
                OriginMessage o => new OriginEvent(o.OriginName),
                RelationMessage r => new RelationEvent(r.RelationId, r.Namespace, r.RelationName,
                    r.Columns.Select(c => c.ColumnName).ToArray(),
                    r.Columns.Select(c => (c.Flags & RelationMessage.Column.ColumnFlags.PartOfKey) != 0).ToArray(),
                    r.ReplicaIdentity == RelationMessage.ReplicaIdentitySetting.AllColumns),
                InsertMessage i => await RowAsync(RowChangeKind.Insert, i.Relation.RelationId, null, false, i.NewRow, ct).ConfigureAwait(false),
                FullUpdateMessage fu => await UpdateAsync(fu.Relation.RelationId, fu.OldRow, true, fu.NewRow, ct).ConfigureAwait(false),
                IndexUpdateMessage iu => await UpdateAsync(iu.Relation.RelationId, iu.Key, false, iu.NewRow, ct).ConfigureAwait(false),
                DefaultUpdateMessage du => await RowAsync(RowChangeKind.Update, du.Relation.RelationId, null, false, du.NewRow, ct).ConfigureAwait(false),
                FullDeleteMessage fd => await DeleteAsync(fd.Relation.RelationId, fd.OldRow, true, ct).ConfigureAwait(false),
                KeyDeleteMessage kd => await DeleteAsync(kd.Relation.RelationId, kd.Key, false, ct).ConfigureAwait(false),
                TruncateMessage t => new TruncateEvent(t.Relations.Select(r => r.RelationId).ToArray(),
                    (t.Options & TruncateMessage.TruncateOptions.Cascade) != 0, (t.Options & TruncateMessage.TruncateOptions.RestartIdentity) != 0),
                LogicalDecodingMessage m => new HeartbeatEvent(new SyncLsn((ulong)m.MessageLsn), m.Prefix, await ReadAllAsync(m.Data, ct).ConfigureAwait(false)),
                _ => null,
            };
            if (decoded is not null) yield return decoded with { ServerWalEnd = walEnd };
        }
    }

    /// <summary>Reports what is durably applied: the server may then recycle WAL up to it.</summary>
    public void Confirm(SyncLsn lsn) => connection.SetReplicationStatus(new NpgsqlLogSequenceNumber(lsn.Value));

    private static async Task<StreamEvent> UpdateAsync(uint relation, ReplicationTuple old, bool full, ReplicationTuple row, CancellationToken ct)
    {
        var (oldValues, _) = await ValuesAsync(old, ct).ConfigureAwait(false);
        var (values, unchanged) = await ValuesAsync(row, ct).ConfigureAwait(false);
        return new RowEvent(RowChangeKind.Update, relation, oldValues, full, values, unchanged);
    }

    private static async Task<StreamEvent> DeleteAsync(uint relation, ReplicationTuple old, bool full, CancellationToken ct)
    {
        var (oldValues, _) = await ValuesAsync(old, ct).ConfigureAwait(false);
        return new RowEvent(RowChangeKind.Delete, relation, oldValues, full, null, null);
    }

    private static async Task<StreamEvent> RowAsync(RowChangeKind kind, uint relation, string?[]? old, bool full, ReplicationTuple row, CancellationToken ct)
    {
        var (values, unchanged) = await ValuesAsync(row, ct).ConfigureAwait(false);
        return new RowEvent(kind, relation, old, full, values, unchanged);
    }

    private static async Task<(string?[] Values, bool[] Unchanged)> ValuesAsync(ReplicationTuple tuple, CancellationToken ct)
    {
        var values = new string?[tuple.NumColumns];
        var unchanged = new bool[tuple.NumColumns];
        var i = 0;
        await foreach (var value in tuple.WithCancellation(ct).ConfigureAwait(false))
        {
            if (value.IsUnchangedToastedValue) unchanged[i] = true;
            else if (!value.IsDBNull) values[i] = await ReadTextAsync(value, ct).ConfigureAwait(false);
            i++;
        }
        return (values, unchanged);
    }

    private static async Task<string> ReadTextAsync(ReplicationValue value, CancellationToken ct) =>
        await value.Get<string>(ct).ConfigureAwait(false);

    private static async Task<string> ReadAllAsync(System.IO.Stream data, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await data.CopyToAsync(buffer, ct).ConfigureAwait(false);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
