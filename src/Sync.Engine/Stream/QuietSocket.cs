using System.Net.Sockets;
using System.Reflection;
using Npgsql.Replication;

namespace Sync.Engine.Stream;

/// <summary>
/// The replication stream's TCP socket, kept from waking the worker while the reader lets a burst gather
/// (<see cref="PgOutputReader.Gather"/>). The walsender sends each message on its own, and .NET wakes its socket thread
/// and a thread-pool thread for every arrival even when no read is waiting; raising the socket's receive low-water mark
/// (SO_RCVLOWAT) for the pause tells the kernel not to report the socket readable for less than
/// <see cref="HoldBytes"/>. At 1000 transactions per second that took the worker from 17 thread switches per
/// transaction to 3, and its CPU per transaction down by 40% (docs/benchmarks.md).
/// </summary>
/// <remarks>
/// Npgsql does not expose the socket, so it is read from the driver's connector by reflection. When a driver version
/// moves it, <see cref="Of"/> returns null and the reader gathers without it (a test names the field). A Unix-domain
/// connection is left alone.
/// </remarks>
internal sealed class QuietSocket
{
    /// <summary>More than a pause brings at the rates the stream sustains, and well under the kernel's cap (half the largest receive buffer).</summary>
    public const int HoldBytes = 256 * 1024;

    private readonly Socket _socket;

    private QuietSocket(Socket socket) => _socket = socket;

    public static QuietSocket? Of(ReplicationConnection connection)
    {
        try
        {
            var connector = typeof(ReplicationConnection).GetProperty("Connector", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(connection);
            return connector?.GetType().GetField("_socket", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(connector) is Socket { ProtocolType: ProtocolType.Tcp } socket
                ? new QuietSocket(socket)
                : null;
        }
        catch (Exception e) when (e is TargetInvocationException or MemberAccessException or InvalidOperationException) { return null; }
    }

    /// <summary>The low-water mark now, in bytes.</summary>
    public int LowWater => (int)_socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater)!;

    /// <summary>Arrivals stop waking the worker until <see cref="HoldBytes"/> are waiting.</summary>
    public void Hold() => Set(HoldBytes);

    /// <summary>Back to waking for the first byte; the kernel reports what is already waiting at once.</summary>
    public void Release() => Set(1);

    private void Set(int bytes)
    {
        // A socket that broke or closed meanwhile: the read that follows reports it.
        try { _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater, bytes); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
    }
}
