using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Grid.Agent.Runtimes.Containers;

namespace Grid.Agent;

/// <summary>What this machine can run, and why a feature is missing (for the log).</summary>
/// <param name="Features">The features (<see cref="NodeFeatures"/>) reported with every heartbeat.</param>
/// <param name="Missing">Why each absent feature is absent.</param>
internal sealed record DetectedFeatures(ImmutableArray<string> Features, ImmutableDictionary<string, string> Missing)
{
    /// <summary>True when <paramref name="feature"/> was found.</summary>
    public bool Has(string feature) => Features.Contains(feature);
}

/// <summary>Finds at agent start what the node can run: processes (when allowed), containers (tools, user namespaces, cgroups), KVM.</summary>
internal static class FeatureDetector
{
    /// <summary>Checks the machine against <paramref name="options"/>.</summary>
    public static async Task<DetectedFeatures> DetectAsync(AgentOptions options, CancellationToken cancellationToken)
    {
        var features = ImmutableArray.CreateBuilder<string>();
        var missing = ImmutableDictionary.CreateBuilder<string, string>();
        if (options.AllowProcessWorkloads)
        {
            features.Add(NodeFeatures.Process);
        }
        else
        {
            missing[NodeFeatures.Process] = "process workloads are not allowed (--allow-process-workloads)";
        }

        if (await ContainersUnavailableAsync(options, cancellationToken) is { } why)
        {
            missing[NodeFeatures.Container] = why;
        }
        else
        {
            features.Add(NodeFeatures.Container);
        }

        if (File.Exists("/dev/kvm"))
        {
            features.Add(NodeFeatures.Kvm);
        }
        else
        {
            missing[NodeFeatures.Kvm] = "/dev/kvm does not exist";
        }

        return new(features.ToImmutable(), missing.ToImmutable());
    }

    /// <summary>
    /// The address published ports are reached at: the operator's, else the local address this machine reaches the
    /// controller from (a connected UDP socket sends nothing, it only asks the kernel for the route).
    /// </summary>
    public static async Task<string> AddressAsync(AgentOptions options, CancellationToken cancellationToken)
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

    private static async Task<string?> ContainersUnavailableAsync(AgentOptions options, CancellationToken cancellationToken)
    {
        if (!options.ContainersEnabled)
        {
            return "containers are turned off (--no-containers)";
        }

        if (!OperatingSystem.IsLinux())
        {
            return "containers run on Linux only";
        }

        var tools = new[] { options.Runc, "skopeo", "umoci", "ip", "unshare" }.Where(t => !Tool.Exists(t)).ToList();
        if (tools.Count > 0)
        {
            return $"missing tools: {string.Join(", ", tools)}";
        }

        var userns = await Tool.RunAsync("unshare", ["--user", "--map-root-user", "true"], cancellationToken);
        if (!userns.Ok)
        {
            return $"user namespaces are not allowed: {userns.Output}";
        }

        return ContainerCgroup.Unavailable();
    }
}
