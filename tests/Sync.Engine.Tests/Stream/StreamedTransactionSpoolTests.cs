using System.Buffers.Binary;
using System.Text;
using Sync.Engine.Diagnostics;
using Sync.Engine.Stream;

namespace Sync.Engine.Tests.Stream;

/// <summary>The spool of streamed transactions on hand-built protocol 2 messages (the stream tests cover real servers).</summary>
public sealed class StreamedTransactionSpoolTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sync-spool-test-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static byte[] Bytes(char kind, params object[] parts)
    {
        var bytes = new List<byte> { (byte)kind };
        foreach (var part in parts)
        {
            switch (part)
            {
                case byte b: bytes.Add(b); break;
                case char c: bytes.Add((byte)c); break;
                case short s: { var x = new byte[2]; BinaryPrimitives.WriteInt16BigEndian(x, s); bytes.AddRange(x); break; }
                case int i: { var x = new byte[4]; BinaryPrimitives.WriteInt32BigEndian(x, i); bytes.AddRange(x); break; }
                case long l: { var x = new byte[8]; BinaryPrimitives.WriteInt64BigEndian(x, l); bytes.AddRange(x); break; }
                case string t: { var x = Encoding.UTF8.GetBytes(t); var n = new byte[4]; BinaryPrimitives.WriteInt32BigEndian(n, x.Length); bytes.Add((byte)'t'); bytes.AddRange(n); bytes.AddRange(x); break; }
            }
        }
        return [.. bytes];
    }

    private static byte[] Start(int xid, bool first) => Bytes('S', xid, (byte)(first ? 1 : 0));
    private static byte[] Insert(int xid, string value) => Bytes('I', xid, 7, 'N', (short)1, value);
    private static byte[] Commit(int xid, long lsn) => Bytes('c', xid, (byte)0, lsn, lsn + 8, 0L);

    private static List<string> Take(StreamedTransactionSpool spool, params byte[][] messages)
    {
        var seen = new List<string>();
        foreach (var m in messages)
        {
            Assert.True(spool.TryTake(m, out var committed));
            foreach (var e in committed ?? []) seen.Add(e switch
            {
                BeginEvent b => $"B{b.Xid}@{b.CommitLsn.Value}",
                RowEvent r => r.NewValues![0].Text!,
                CommitEvent c => $"C@{c.CommitLsn.Value}",
                _ => e.GetType().Name,
            });
        }
        return seen;
    }

    [Fact]
    public void InterleavedStreamsAreReplayedWholeAtTheirOwnCommit()
    {
        using var spool = new StreamedTransactionSpool(_dir);
        Assert.Empty(Take(spool, Start(10, true), Insert(10, "a1"), Bytes('E'), Start(11, true), Insert(11, "b1"), Bytes('E'), Start(10, false), Insert(10, "a2"), Bytes('E')));
        Assert.Equal(2, spool.OpenTransactions);
        Assert.Equal(["B11@200", "b1", "C@200"], Take(spool, Commit(11, 200)));
        Assert.Equal(["B10@300", "a1", "a2", "C@300"], Take(spool, Commit(10, 300)));
        Assert.Equal(0, spool.OpenTransactions);
        Assert.Empty(Directory.GetFiles(_dir));
        // Outside a stream block ordinary messages are the caller's.
        Assert.False(spool.TryTake(Insert(0, "x")[0..1].Concat(Insert(0, "x")[5..]).ToArray(), out _));
    }

    [Fact]
    public void AnAbortedSubtransactionIsCutOffAndAnAbortedTransactionDropped()
    {
        using var spool = new StreamedTransactionSpool(_dir);
        Take(spool, Start(20, true), Insert(20, "keep1"), Insert(21, "sub-gone"), Insert(22, "nested-gone"), Bytes('A', 20, 21), Insert(20, "keep2"), Bytes('E'));
        Assert.Equal(["B20@500", "keep1", "keep2", "C@500"], Take(spool, Commit(20, 500)));

        Take(spool, Start(30, true), Insert(30, "never"), Bytes('E'), Bytes('A', 30, 30));
        Assert.Equal(0, spool.OpenTransactions);
        Assert.Throws<SyncException>(() => spool.TryTake(Commit(30, 600), out _));
    }

    [Fact]
    public void AContinuationWhoseBeginningWasNotSeenIsRefusedAndTheStreamRestarted()
    {
        using var spool = new StreamedTransactionSpool(_dir);
        var error = Assert.Throws<SyncException>(() => spool.TryTake(Start(40, false), out _));
        Assert.Equal(ErrorIds.StreamOutOfStep, error.ErrorId);
        Assert.Contains("first part", error.Message);
        Assert.True(error.Retriable, "a restarted stream sends the transaction again from its start");
        Assert.Equal(ErrorIds.StreamOutOfStep, Assert.Throws<SyncException>(() => spool.TryTake(Commit(41, 800), out _)).ErrorId);
    }

    [Fact]
    public void ASpoolDiskThatFailsIsTheWorkersErrorNotTheSources()
    {
        // A file where the spool's folder should be: creating the folder fails as a full or read-only disk would.
        File.WriteAllText(_dir, "in the way");
        try
        {
            using var spool = new StreamedTransactionSpool(_dir);
            var error = Assert.Throws<SyncException>(() => spool.TryTake(Start(50, true), out _));
            Assert.Equal(ErrorIds.SpoolWriteFailed, error.ErrorId);
            Assert.Equal(SyncErrorCategory.WriteError, error.Category);
            Assert.Contains(_dir, error.Message);
            Assert.Contains("Free space", error.Message);
            Assert.IsAssignableFrom<IOException>(error.InnerException);
        }
        finally { File.Delete(_dir); }
    }

    [Fact]
    public void SpoolFilesAreTheOwnersOnly()
    {
        if (OperatingSystem.IsWindows()) return;
        using var spool = new StreamedTransactionSpool(_dir);
        Take(spool, Start(60, true), Insert(60, "a"), Bytes('E'));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir));
        var file = Assert.Single(Directory.GetFiles(_dir));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
    }
}
