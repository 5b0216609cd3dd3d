using System.Buffers.Binary;
using Sync.Engine.Diagnostics;

namespace Sync.Engine.Stream;

/// <summary>
/// Gathers the changes of large transactions that the source streams while they are still in progress (pgoutput
/// protocol 2, PostgreSQL 14+), one spool file per transaction, and hands each over as an ordinary transaction when it
/// commits, in commit order like every other. Aborted transactions are discarded and rolled-back subtransactions cut
/// off. Without this the source's decoder spills a large transaction to its own disk until the commit and only then
/// sends it; with it, the source keeps no more than logical_decoding_work_mem of it and the worker holds the rest.
/// </summary>
/// <remarks>
/// Messages inside a stream block carry the (sub)transaction's xid after their type byte; the spool keeps each
/// message without it, so replaying it is the protocol 1 layout that <see cref="PgOutputParser"/> reads. Changes of a
/// subtransaction are contiguous from its first one on, and its abort arrives before any later change of its parent
/// (WAL order), so aborting a subtransaction truncates the file where that subtransaction began, as PostgreSQL's own
/// apply worker does.
/// </remarks>
public sealed class StreamedTransactionSpool : IDisposable
{
    private readonly string directory;

    /// <param name="directory">The spool's folder: emptied first, since what a stopped worker left belongs to no stream now.</param>
    public StreamedTransactionSpool(string directory)
    {
        this.directory = directory;
        try { if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
    }

    /// <summary>Row images of the source: readable by the worker's account only, like the task's other files.</summary>
    private static readonly FileStreamOptions SpoolFile = SpoolFileOptions();

    private static FileStreamOptions SpoolFileOptions()
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 64 * 1024 };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        return options;
    }

    private sealed class Spooled(string path)
    {
        public string Path { get; } = path;
        public FileStream File { get; } = new(path, SpoolFile);
        public Dictionary<uint, long> SubtransactionStarts { get; } = [];
    }

    /// <summary>Bytes held in spool files now (for the worker's diagnostics and error messages).</summary>
    public long SpooledBytes => _open.Values.Sum(s => s.File.Length);

    /// <summary>The spooled size for an error message: the disk that just failed may fail this too.</summary>
    private long SpooledBytesIfKnown()
    {
        try { return SpooledBytes; }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { return -1; }
    }

    private readonly Dictionary<uint, Spooled> _open = [];
    private uint? _streaming;

    /// <summary>True between a Stream Start and its Stream Stop: messages belong to the streamed transaction.</summary>
    public bool InStream => _streaming is not null;

    /// <summary>Transactions being gathered now (for the worker's diagnostics).</summary>
    public int OpenTransactions => _open.Count;

    /// <summary>
    /// Takes one protocol 2 message: a stream control message or a change inside a stream block is consumed and true
    /// is returned (with the transaction's events in <paramref name="committed"/> at its Stream Commit); any other
    /// message is left to the caller.
    /// </summary>
    public bool TryTake(ReadOnlySpan<byte> message, out IEnumerable<StreamEvent>? committed)
    {
        try { return Take(message, out committed); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw SpoolFailed(e); }
    }

    /// <summary>
    /// The spool's disk failed (full, gone, read-only): the worker's side, not the source's. Retried in the task's
    /// other-failures window, since freeing space lets the restarted stream send the transaction again from its start.
    /// </summary>
    private SyncException SpoolFailed(Exception e) => new(ErrorIds.SpoolWriteFailed, SyncErrorCategory.WriteError,
        $"Could not keep a large streamed transaction in '{directory}'{(SpooledBytesIfKnown() is >= 0 and var bytes ? $" ({bytes / (1024 * 1024)} MB spooled)" : "")}: {e.Message} " +
        "Free space on that disk, or move the task store (SYNC_HOME) to a larger one; the stream restarts from the checkpoint and nothing is lost.",
        retriable: true, inner: e);

    private bool Take(ReadOnlySpan<byte> message, out IEnumerable<StreamEvent>? committed)
    {
        committed = null;
        switch ((char)message[0])
        {
            case 'S':
                var xid = BinaryPrimitives.ReadUInt32BigEndian(message[1..]);
                if (message[5] == 1)
                {
                    Discard(xid);
                    Store.AtomicFile.CreatePrivateDirectory(directory);
                    _open[xid] = new Spooled(System.IO.Path.Combine(directory, $"{xid}.spool"));
                }
                else if (!_open.ContainsKey(xid))
                {
                    // Applying the rest alone would apply part of a transaction: refuse, and restart the stream, which
                    // decodes the transaction again from its beginning.
                    throw OutOfStep($"The source continued streamed transaction {xid}, whose first part this stream did not receive.");
                }
                _streaming = xid;
                return true;
            case 'E':
                _streaming = null;
                return true;
            case 'A':
                Abort(BinaryPrimitives.ReadUInt32BigEndian(message[1..]), BinaryPrimitives.ReadUInt32BigEndian(message[5..]));
                return true;
            case 'c':
                committed = Commit(message);
                return true;
        }
        if (_streaming is not { } top) return false;
        Append(top, message);
        return true;
    }

    private void Append(uint top, ReadOnlySpan<byte> message)
    {
        var spooled = _open[top];
        // Origin messages have no xid field; every other message in a stream block does.
        var hasXid = message[0] is (byte)'R' or (byte)'Y' or (byte)'I' or (byte)'U' or (byte)'D' or (byte)'T' or (byte)'M';
        var subtransaction = hasXid ? BinaryPrimitives.ReadUInt32BigEndian(message[1..]) : top;
        if (subtransaction != top) spooled.SubtransactionStarts.TryAdd(subtransaction, spooled.File.Position);
        Span<byte> header = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(header, hasXid ? message.Length - 4 : message.Length);
        spooled.File.Write(header);
        spooled.File.WriteByte(message[0]);
        spooled.File.Write(message[(hasXid ? 5 : 1)..]);
    }

    private void Abort(uint top, uint subtransaction)
    {
        if (subtransaction == top || !_open.TryGetValue(top, out var spooled))
        {
            Discard(top);
            return;
        }
        if (!spooled.SubtransactionStarts.TryGetValue(subtransaction, out var start)) return; // it changed nothing we keep
        spooled.File.Flush();
        spooled.File.SetLength(start);
        spooled.File.Position = start;
        foreach (var (sub, at) in spooled.SubtransactionStarts.ToArray())
            if (at >= start) spooled.SubtransactionStarts.Remove(sub);
    }

    private IEnumerable<StreamEvent> Commit(ReadOnlySpan<byte> message)
    {
        var xid = BinaryPrimitives.ReadUInt32BigEndian(message[1..]);
        var commitLsn = new SyncLsn(BinaryPrimitives.ReadUInt64BigEndian(message[6..]));
        var endLsn = new SyncLsn(BinaryPrimitives.ReadUInt64BigEndian(message[14..]));
        var time = PostgresEpoch.AddTicks(BinaryPrimitives.ReadInt64BigEndian(message[22..]) * 10);
        if (!_open.Remove(xid, out var spooled))
            throw OutOfStep($"The source committed streamed transaction {xid}, whose changes this stream never began (Stream Start missing).");
        return Replay(xid, spooled, commitLsn, endLsn, time);
    }

    private static SyncException OutOfStep(string what) => new(ErrorIds.StreamOutOfStep, SyncErrorCategory.InvalidData,
        what + " Nothing of it was applied; the stream restarts from the checkpoint.", retriable: true);

    private IEnumerable<StreamEvent> Replay(uint xid, Spooled spooled, SyncLsn commitLsn, SyncLsn endLsn, DateTimeOffset time)
    {
        try
        {
            yield return new BeginEvent(xid, commitLsn, time);
            var file = spooled.File;
            long end;
            try
            {
                file.Flush();
                end = file.Position;
                file.Position = 0;
            }
            catch (IOException e) { throw SpoolFailed(e); }
            var header = new byte[4];
            var record = Array.Empty<byte>();
            while (file.Position < end)
            {
                int length;
                try
                {
                    file.ReadExactly(header);
                    length = BinaryPrimitives.ReadInt32BigEndian(header);
                    if (record.Length < length) record = new byte[Math.Max(length, record.Length * 2)];
                    file.ReadExactly(record, 0, length);
                }
                catch (IOException e) { throw SpoolFailed(e); }
                if (PgOutputParser.Parse(record.AsSpan(0, length)) is { } parsed) yield return parsed;
            }
            yield return new CommitEvent(commitLsn, endLsn, time);
        }
        finally
        {
            spooled.File.Dispose();
            File.Delete(spooled.Path);
        }
    }

    private void Discard(uint xid)
    {
        if (!_open.Remove(xid, out var spooled)) return;
        spooled.File.Dispose();
        File.Delete(spooled.Path);
    }

    private static readonly DateTimeOffset PostgresEpoch = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public void Dispose()
    {
        foreach (var xid in _open.Keys.ToArray()) Discard(xid);
        try { if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
    }
}
