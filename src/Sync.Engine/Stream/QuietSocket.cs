using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Npgsql.Internal;
using Npgsql.Replication;

namespace Sync.Engine.Stream;

/// <summary>
/// The replication stream's TCP socket, kept from waking the worker while the reader lets a burst gather
/// (<see cref="PgOutputReader.Gather"/>). The walsender sends each message on its own, and .NET wakes its socket thread
/// and a thread-pool thread for every arrival even when no read is waiting; raising the socket's receive low-water mark
/// (SO_RCVLOWAT) for the pause tells the kernel not to report the socket readable before that much is waiting. At 1000
/// transactions per second that took the worker from 17 thread switches per transaction to 3, and its CPU per
/// transaction down by 40% (docs/benchmarks.md, streaming, 2026-12-02 third session).
/// </summary>
/// <remarks>
/// <para>
/// Linux only: there the mark decides when a TCP socket is reported readable, while a read that does not wait still
/// returns whatever has arrived. The mark stays at a quarter of the socket's receive buffer at most: Linux grows the
/// buffer, and pins the receive window, when a mark needs more room than the buffer has, and a pinned window would
/// slow a stream from a distant source. A quarter is a margin, not a guarantee: newer kernels size that room by the
/// socket's measured overhead.
/// </para>
/// <para>
/// Npgsql does not expose the socket, so it is read from the driver's connector through unsafe accessors. When a driver
/// version moves it, <see cref="Of"/> returns null and the reader gathers without it (QuietSocketTests then fails). A Unix-domain
/// connection is left alone.
/// </para>
/// </remarks>
internal sealed class QuietSocket
{
    /// <summary>The highest mark: more than a pause brings at the rates the stream sustains.</summary>
    public const int HoldBytes = 256 * 1024;

    private readonly Socket _socket;

    private QuietSocket(Socket socket) => _socket = socket;

    public static QuietSocket? Of(ReplicationConnection connection)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return ConnectorOf(connection) is { } connector && SocketOf(connector) is { ProtocolType: ProtocolType.Tcp } socket ? new QuietSocket(socket) : null;
        }
        // A member a driver version moved (Missing*Exception), or a connection without its connector (the getter throws).
        catch (Exception e) when (e is MissingMemberException or InvalidOperationException) { return null; }
    }

    // The connector is the driver's internal type (NPG9001: may change), which is what the missing-member case covers.
#pragma warning disable NPG9001
    // Bound when first called, with no reflection, so they also hold in a natively compiled worker (whose trimming
    // would drop what reflection looks up by name); a member that a driver version renamed throws Missing*Exception.
    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_Connector")]
    private static extern NpgsqlConnector? ConnectorOf(ReplicationConnection connection);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_socket")]
    private static extern ref Socket? SocketOf(NpgsqlConnector connector);
#pragma warning restore NPG9001

    /// <summary>The low-water mark now, in bytes.</summary>
    public int LowWater => (int)_socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater)!;

    /// <summary>The socket's receive buffer now, in bytes.</summary>
    public int ReceiveBuffer => _socket.ReceiveBufferSize;

    /// <summary>Arrivals stop waking the worker until a quarter of the receive buffer (at most <see cref="HoldBytes"/>) is waiting.</summary>
    public void Hold()
    {
        try { Set(Math.Clamp(_socket.ReceiveBufferSize / 4, 1, HoldBytes)); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
    }

    /// <summary>Back to waking for the first byte; the kernel reports what is already waiting at once.</summary>
    public void Release()
    {
        try { Set(1); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
    }

    /// <summary>
    /// Blocks the calling thread until the held mark's worth is waiting, the socket fails or closes, or
    /// <paramref name="timeout"/> has passed; whichever comes first, the read that follows takes what is there. The pause
    /// is short and the reader's own, so it blocks the pool thread running the reader instead of waking a timer.
    /// </summary>
    public void Wait(TimeSpan timeout)
    {
        try { _socket.Poll(timeout, SelectMode.SelectRead); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
    }

    // A socket that broke or closed meanwhile: the read that follows reports it.
    private void Set(int bytes) => _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater, bytes);
}
