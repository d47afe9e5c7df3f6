using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Grid.Agent.Runtimes.Containers;

/// <summary>A volume bound into a container: its host folder and where the container sees it.</summary>
/// <param name="HostPath">The volume's mount on the host.</param>
/// <param name="Destination">Path inside the container.</param>
/// <param name="ReadOnly">Mounted read-only.</param>
internal sealed record BundleMount(string HostPath, string Destination, bool ReadOnly);

/// <summary>What a container instance runs with, beyond its image.</summary>
/// <param name="Args">The process: entrypoint and arguments.</param>
/// <param name="Env">Environment, <c>NAME=value</c>, after the image's.</param>
/// <param name="Cwd">Working directory.</param>
/// <param name="RootFs">The instance's root filesystem (the overlay of the image with its writable layer).</param>
/// <param name="NetworkNamespace">Path of the pod's network namespace.</param>
/// <param name="CgroupsPath">Where runc makes the container's cgroup (under the agent's per-instance parent).</param>
/// <param name="Cru">Cores: the cpu quota; 0 leaves cpu unlimited.</param>
/// <param name="Mounts">The reservation's volumes bound into it.</param>
/// <param name="PidsLimit">Most processes the container may hold.</param>
internal sealed record BundleSettings(
    ImmutableArray<string> Args,
    ImmutableArray<string> Env,
    string Cwd,
    string RootFs,
    string NetworkNamespace,
    string CgroupsPath,
    long Cru,
    ImmutableArray<BundleMount> Mounts,
    long PidsLimit = 1024)
{
    /// <summary>The host's device nodes of the reservation's GPUs (<see cref="Devices.GpuDeviceNodes"/>).</summary>
    public ImmutableArray<Devices.DeviceNode> Devices { get; init; } = [];
}

/// <summary>
/// Writes an instance's <c>config.json</c> by editing the one umoci made for the image (which already carries the
/// user namespace and its uid/gid maps), not by writing a spec from scratch.
/// </summary>
internal static class ContainerBundle
{
    private const long CpuPeriodMicros = 100_000;

    /// <summary>Reads <paramref name="imageConfig"/>, applies <paramref name="settings"/> and writes <paramref name="target"/>.</summary>
    public static void Write(string imageConfig, string target, BundleSettings settings)
    {
        var config = JsonNode.Parse(File.ReadAllText(imageConfig))!.AsObject();
        var process = config["process"]!.AsObject();
        process["terminal"] = false;
        process["args"] = new JsonArray([.. settings.Args.Select(a => JsonValue.Create(a))]);
        var env = (process["env"] as JsonArray)?.Select(e => e!.GetValue<string>()).ToList() ?? [];
        foreach (var entry in settings.Env)
        {
            var name = entry[..(entry.IndexOf('=', StringComparison.Ordinal) + 1)];
            env.RemoveAll(e => e.StartsWith(name, StringComparison.Ordinal));
            env.Add(entry);
        }

        // umoci's TERM=xterm is for a terminal the container does not get.
        env.RemoveAll(e => e.StartsWith("TERM=", StringComparison.Ordinal));
        process["env"] = new JsonArray([.. env.Select(e => JsonValue.Create(e))]);
        process["cwd"] = settings.Cwd;

        config["root"] = new JsonObject { ["path"] = settings.RootFs, ["readonly"] = false };

        // sysfs cannot be mounted in a user namespace that does not own the (pod's) network namespace, and
        // binding the host's /sys would show host paths: the container goes without /sys.
        var mounts = (config["mounts"] as JsonArray)?
            .Where(m => !(m?["destination"]?.GetValue<string>() ?? "").StartsWith("/sys", StringComparison.Ordinal))
            .Select(m => m!.DeepClone()).ToList() ?? [];
        foreach (var mount in settings.Mounts)
        {
            mounts.Add(new JsonObject
            {
                ["destination"] = mount.Destination,
                ["type"] = "bind",
                ["source"] = mount.HostPath,
                ["options"] = new JsonArray(["rbind", mount.ReadOnly ? "ro" : "rw", "nosuid", "nodev"]),
            });
        }

        config["mounts"] = new JsonArray([.. mounts]);

        var linux = config["linux"]!.AsObject();
        var namespaces = (linux["namespaces"] as JsonArray)?
            .Where(n => n?["type"]?.GetValue<string>() != "network")
            .Select(n => n!.DeepClone()).ToList() ?? [];
        foreach (var type in new[] { "pid", "mount", "ipc", "uts", "user" })
        {
            if (!namespaces.Any(n => n["type"]?.GetValue<string>() == type))
            {
                namespaces.Add(new JsonObject { ["type"] = type });
            }
        }

        namespaces.Add(new JsonObject { ["type"] = "network", ["path"] = settings.NetworkNamespace });
        linux["namespaces"] = new JsonArray([.. namespaces]);
        linux["cgroupsPath"] = settings.CgroupsPath;

        // Memory is limited on the agent's parent cgroup (see ContainerCgroup): the kernel's OOM kill then stays
        // readable there after runc removed the container's own cgroup.
        var resources = new JsonObject { ["pids"] = new JsonObject { ["limit"] = settings.PidsLimit } };
        if (settings.Cru > 0)
        {
            resources["cpu"] = new JsonObject { ["quota"] = settings.Cru * CpuPeriodMicros, ["period"] = CpuPeriodMicros };
        }

        if (linux["resources"] is JsonObject existing && existing["devices"] is { } devices)
        {
            resources["devices"] = devices.DeepClone();
        }

        linux["resources"] = resources;
        Devices.GpuDeviceNodes.Apply(linux, settings.Devices);
        File.WriteAllText(target, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The environment a container gets for its published ports: <c>GRID_PORT_&lt;name&gt;</c> and <c>GRID_ADDR_&lt;name&gt;</c>.</summary>
    public static IEnumerable<string> PortEnv(IEnumerable<ContainerPort> ports, IEnumerable<WorkloadEndpoint> endpoints)
    {
        var published = endpoints.ToDictionary(e => e.Name);
        foreach (var port in ports)
        {
            var name = EnvName(port.Name);
            yield return $"GRID_PORT_{name}={port.Port.ToString(CultureInfo.InvariantCulture)}";
            if (published.TryGetValue(port.Name, out var endpoint))
            {
                yield return $"GRID_ADDR_{name}={endpoint.Address}:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}";
            }
        }
    }

    private static string EnvName(string name) =>
        new([.. name.ToUpperInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_')]);
}
