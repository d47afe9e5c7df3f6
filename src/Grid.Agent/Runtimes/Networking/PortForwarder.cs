using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Grid.Agent.Runtimes.Networking;

/// <summary>
/// A userspace TCP forwarder (like docker-proxy): accepts on a bound listener and copies each connection both ways to
/// the target, passing half-closes on; disposing it stops listening and closes every connection.
/// </summary>
internal sealed class PortForwarder : IAsyncDisposable
{
    // Linux's SOL_SOCKET and SO_REUSEADDR.
    private const int SolSocket = 1;
    private const int SoReuseAddr = 2;

    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private readonly Task _accepting;

    /// <summary>Starts forwarding what <paramref name="listener"/> (bound, listening) accepts to <paramref name="target"/>.</summary>
    public PortForwarder(Socket listener, IPEndPoint target)
    {
        _listener = listener;
        _target = target;
        _accepting = AcceptAsync();
    }

    /// <summary>Binds a listening socket on <paramref name="address"/>:<paramref name="port"/>; null when the port is taken.</summary>
    public static Socket? TryListen(IPAddress address, int port)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // Lets a restarted agent bind its port again while old connections linger in TIME_WAIT. Set as the raw
            // SO_REUSEADDR: .NET's ReuseAddress also sets SO_REUSEPORT on Unix, which lets a second listener (another
            // agent on the machine) share the port and the kernel split connections between two containers.
            if (OperatingSystem.IsLinux())
            {
                socket.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
            }

            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(512);
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        foreach (var socket in _open.Keys)
        {
            socket.Dispose();
        }

        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptAsync(_stop.Token);
            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(Socket client)
    {
        using var upstream = new Socket(_target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _open[client] = 0;
        _open[upstream] = 0;
        try
        {
            using (var connect = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
            {
                connect.CancelAfter(ConnectTimeout);
                await upstream.ConnectAsync(_target, connect.Token);
            }

            await Task.WhenAll(PumpAsync(client, upstream), PumpAsync(upstream, client));
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The target refused or is gone, or the port was unpublished: the client's connection closes below.
        }
        finally
        {
            _open.TryRemove(client, out _);
            _open.TryRemove(upstream, out _);
            client.Dispose();
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
            {
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }

            // The sender is done writing: the other side reads its end, and may still answer (half-close).
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A reset or an unpublish: both ends go, so the other direction stops too.
            from.Dispose();
            to.Dispose();
        }
    }
}
