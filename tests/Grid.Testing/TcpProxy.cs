using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Grid.Testing;

/// <summary>
/// A TCP relay on 127.0.0.1 in front of one target port, whose link can be cut (every open connection is
/// dropped and new ones are closed at once) and restored, like a network cable pulled and plugged back. Given
/// several target ports it is a load balancer that fails over: each new connection goes to the next target that
/// accepts it, as an operator's balancer in front of the silos keeps agents connected while one silo restarts.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly int[] _targetPorts;
    private readonly Task _accepting;
    private volatile bool _cut;
    private int _nextTarget;

    public TcpProxy(int targetPort)
        : this([targetPort])
    {
    }

    /// <summary>A relay to the first of <paramref name="targetPorts"/> (in turn) that accepts each connection.</summary>
    public TcpProxy(IReadOnlyList<int> targetPorts)
    {
        ArgumentOutOfRangeException.ThrowIfZero(targetPorts.Count);
        _targetPorts = [.. targetPorts];
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public Uri Url => new($"http://127.0.0.1:{Port}");

    /// <summary>Drops every open connection; connections made while cut are closed at once.</summary>
    public void Cut()
    {
        _cut = true;
        foreach (var socket in _open.Keys)
        {
            Close(socket);
        }
    }

    public void Restore() => _cut = false;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Cut();
        try
        {
            await _accepting;
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(_stop.Token);
            if (_cut)
            {
                Close(client);
                continue;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(Socket client)
    {
        _open[client] = 0;
        Socket? upstream = null;
        try
        {
            upstream = await ConnectAsync();
            await Task.WhenAny(PumpAsync(client, upstream), PumpAsync(upstream, client));
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The link was cut or the target is gone: both ends close below.
        }
        finally
        {
            Close(client);
            if (upstream is not null)
            {
                Close(upstream);
            }
        }
    }

    /// <summary>Connects to the targets in turn from the next one; throws the last refusal when none accepts.</summary>
    private async Task<Socket> ConnectAsync()
    {
        var first = (int)((uint)Interlocked.Increment(ref _nextTarget) % (uint)_targetPorts.Length);
        for (var i = 0; ; i++)
        {
            var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _open[upstream] = 0;
            try
            {
                await upstream.ConnectAsync(IPAddress.Loopback, _targetPorts[(first + i) % _targetPorts.Length], _stop.Token);
                return upstream;
            }
            catch (SocketException) when (i + 1 < _targetPorts.Length)
            {
                // This target is down (a silo restarting): the next one takes the connection.
                Close(upstream);
            }
            catch
            {
                Close(upstream);
                throw;
            }
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0 && !_cut)
            {
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Closed by the other pump or by a cut.
        }
    }

    private void Close(Socket socket)
    {
        _open.TryRemove(socket, out _);
        try
        {
            socket.Close(0);
        }
        catch (ObjectDisposedException)
        {
            // Already closed.
        }
    }
}
