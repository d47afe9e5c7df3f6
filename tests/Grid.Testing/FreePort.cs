using System.Net;
using System.Net.Sockets;

namespace Grid.Testing;

/// <summary>Free TCP ports on the loopback interface.</summary>
public static class FreePort
{
    // Below the kernel's ephemeral range (32768-60999 here) and below the agents' default published-port range
    // (20000-32000): a port the OS picks with "port 0" is ephemeral, and the hundreds of outgoing HTTP connections
    // of tests running beside each other take ephemeral ports too, so one could take a silo's port between the
    // pick and the bind (seen in CI: "address already in use"). Outgoing connections never take ports from here.
    private const int First = 10_000;
    private const int Count = 10_000;

    // Each test process walks the range from its own random start, so parallel test assemblies rarely meet; a
    // port some process holds is skipped by the bind check.
    private static int _next = Random.Shared.Next(Count);

    /// <summary>
    /// Returns a port that was free on 127.0.0.1 a moment ago, outside the ephemeral range, never the same twice in
    /// this process until the range wraps. Another process can still take it before the caller binds.
    /// </summary>
    public static int Get()
    {
        for (var attempt = 0; attempt < Count; attempt++)
        {
            var port = First + (Interlocked.Increment(ref _next) % Count);
            if (CanBind(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"no free port in {First}-{First + Count - 1}");
    }

    private static bool CanBind(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
