using System.Net;
using System.Net.Sockets;

namespace Grid.Testing;

/// <summary>Free TCP ports on the loopback interface.</summary>
public static class FreePort
{
    /// <summary>
    /// Returns a port that was free on 127.0.0.1 a moment ago (the OS picks it). Another process can
    /// still take it before the caller binds, so starters that can fail on a taken port retry.
    /// </summary>
    public static int Get()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
