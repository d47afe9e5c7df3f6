using System.Net;
using System.Net.Sockets;

namespace Grid.Agent.Gateway;

/// <summary>The node's address as others reach it: what a gateway listening on a wildcard address reports.</summary>
internal static class LocalAddress
{
    /// <summary>
    /// The operator's <see cref="AgentOptions.PublicAddress"/>, else the local address this machine reaches the
    /// controller from (a connected UDP socket sends nothing, it only asks the kernel for the route).
    /// </summary>
    public static async Task<string> TowardAsync(AgentOptions options, CancellationToken cancellationToken)
    {
        if (options.PublicAddress is { } given)
        {
            return given;
        }

        try
        {
            var host = options.ApiUrl.DnsSafeHost;
            var target = IPAddress.TryParse(host, out var ip) ? ip : (await Dns.GetHostAddressesAsync(host, cancellationToken))[0];
            using var socket = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            await socket.ConnectAsync(new IPEndPoint(target, options.ApiUrl.Port), cancellationToken);
            return ((IPEndPoint)socket.LocalEndPoint!).Address.ToString();
        }
        catch (Exception e) when (e is SocketException or IndexOutOfRangeException)
        {
            return IPAddress.Loopback.ToString();
        }
    }
}
