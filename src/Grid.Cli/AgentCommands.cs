using System.CommandLine;
using System.Runtime.InteropServices;
using Grid.Agent;
using Grid.Client;
using Microsoft.Extensions.Logging;

namespace Grid.Cli;

/// <summary><c>grid agent</c> (run the node agent) and <c>grid agent register</c>.</summary>
internal static class AgentCommands
{
    public static Command Build()
    {
        var workDir = WorkDirOption();
        var nodeId = new Option<long?>("--node-id") { Description = "Node id (default: from <workdir>/node.json)" };
        var nodeKey = new Option<string?>("--node-key") { Description = "Node key (default: from <workdir>/node.json)" };
        var allow = new Option<bool>("--allow-process-workloads")
        {
            Description = "Run process workloads for real, as this agent's user with its rights (otherwise they are reported failed)",
        };
        var interval = CommonOptions.Duration("--heartbeat-interval", "Time between heartbeats (default 3s)", TimeSpan.FromSeconds(3));
        var fence = CommonOptions.Duration(
            "--stop-on-disconnect-after",
            "Stop process workloads when the controller is unreachable this long (default 9s; 'off' keeps them running)",
            TimeSpan.FromSeconds(9),
            allowOff: true);
        var workloadUser = new Option<string>("--workload-user")
        {
            Description = "Unprivileged user process workloads run as when the agent is root (created if missing; never root)",
            DefaultValueFactory = _ => "grid-workload",
        };
        var allowCommand = new Option<string[]>("--allow-command")
        {
            Description = "A command tenants may run, exactly as in process.command (repeatable; default: any)",
            AllowMultipleArgumentsPerToken = true,
        };
        var requireLimits = new Option<bool>("--require-limits")
        {
            Description = "Refuse process workloads when cgroups cannot hold them to their reserved CPU and memory",
        };
        var noContainers = new Option<bool>("--no-containers")
        {
            Description = "Do not run container workloads here (by default they run when runc, skopeo, umoci and user namespaces work)",
        };
        var runc = new Option<string>("--runc")
        {
            Description = "The runc containers run with: a path, or a name looked up on PATH (default runc)",
            DefaultValueFactory = _ => "runc",
        };
        var publicAddress = new Option<string?>("--public-address")
        {
            Description = "Address published container ports are reached at (default: the address the agent reaches the controller from)",
        };
        var portRange = new Option<string>("--port-range")
        {
            Description = "Host ports published container ports are picked from (default 20000-32000)",
            DefaultValueFactory = _ => "20000-32000",
        };
        var imageCache = CommonOptions.Size(
            "--image-cache-size", "Disk the node's image cache may take before unused images go; held out of the node's sru (default 10G)");
        var gatewayListen = new Option<string?>("--gateway-listen") { Description = "Serve the grid's names as a gateway on this address, e.g. 0.0.0.0:80" };
        var gatewayListenTls = new Option<string?>("--gateway-listen-tls") { Description = "Also terminate TLS for names on this address, e.g. 0.0.0.0:443" };
        var gatewayCertificate = new Option<string?>("--gateway-certificate") { Description = "PEM certificate (the operator's wildcard for the names' domain)" };
        var gatewayKey = new Option<string?>("--gateway-key") { Description = "PEM private key of --gateway-certificate" };
        var gpu = new Option<string[]>("--gpu")
        {
            Description = "A GPU of this node, id=PCI-ADDRESS,vendor=NAME,device=NAME[,memory=MiB] (repeatable; default: read from /sys/bus/pci and nvidia-smi)",
        };
        var latitude = new Option<double?>("--latitude") { Description = "The node's latitude in degrees, for placement close to tenants (with --longitude)" };
        var longitude = new Option<double?>("--longitude") { Description = "The node's longitude in degrees (with --latitude)" };
        var grace = CommonOptions.Duration("--stop-grace", "Time between SIGTERM and SIGKILL when stopping a workload (default 5s)", TimeSpan.FromSeconds(5));
        var agent = new Command("agent", "Run the node agent: heartbeat to the controller and run the workloads it assigns")
        {
            workDir, nodeId, nodeKey, allow, workloadUser, allowCommand, requireLimits, interval, fence, grace,
            noContainers, runc, publicAddress, portRange, imageCache, gatewayListen, gatewayListenTls, gatewayCertificate, gatewayKey, gpu, latitude,
            longitude, Register(workDir),
        };
        agent.SetAction(async (parse, cancellationToken) =>
        {
            var dir = Path.GetFullPath(parse.GetValue(workDir)!);
            var saved = NodeCredentials.Load(dir);
            var id = parse.GetValue(nodeId) ?? saved?.NodeId;
            var key = parse.GetValue(nodeKey) ?? saved?.NodeKey;
            var signingKey = NodeSigningKey.LoadPrivateKey(dir);
            if (id is null || (key is null && signingKey is null))
            {
                return ApiAction.Fail(parse, $"no node credentials: pass --node-id and --node-key, or run 'grid agent register --workdir {dir}' first", 2);
            }

            if (ParsePortRange(parse.GetValue(portRange)!) is not { } ports)
            {
                return ApiAction.Fail(parse, $"--port-range '{parse.GetValue(portRange)}' must be FIRST-LAST within 1-65535", 2);
            }

            var gpus = new List<GpuDevice>();
            foreach (var text in parse.GetValue(gpu) ?? [])
            {
                var (parsed, error) = Grid.Agent.Devices.GpuOption.Parse(text);
                if (parsed is null)
                {
                    return ApiAction.Fail(parse, error!, 2);
                }

                gpus.Add(parsed);
            }

            if ((parse.GetValue(latitude) is null) != (parse.GetValue(longitude) is null)
                || parse.GetValue(latitude) is < -90 or > 90 || parse.GetValue(longitude) is < -180 or > 180)
            {
                return ApiAction.Fail(parse, "--latitude (-90..90) and --longitude (-180..180) are given together", 2);
            }

            var options = new AgentOptions
            {
                ApiUrl = CommonOptions.ApiUrl(parse, saved?.Api),
                NodeId = id.Value,
                NodeKey = key ?? "",
                SigningKey = signingKey,
                WorkDir = dir,
                AllowProcessWorkloads = parse.GetValue(allow),
                WorkloadUser = parse.GetValue(workloadUser)!,
                AllowedCommands = parse.GetValue(allowCommand) ?? [],
                RequireResourceLimits = parse.GetValue(requireLimits),
                HeartbeatInterval = parse.GetValue(interval)!.Value,
                StopOnDisconnectAfter = parse.GetValue(fence),

                // Without these flags the agent follows the timing the controller sends in its heartbeat answers.
                HeartbeatIntervalGiven = parse.Tokens.Any(t => t.Value == "--heartbeat-interval"),
                StopOnDisconnectAfterGiven = parse.Tokens.Any(t => t.Value == "--stop-on-disconnect-after"),
                StopGracePeriod = parse.GetValue(grace)!.Value,
                ContainersEnabled = !parse.GetValue(noContainers),
                Runc = parse.GetValue(runc)!,
                PublicAddress = parse.GetValue(publicAddress),
                PortRangeStart = ports.First,
                PortRangeEnd = ports.Last,
                ImageCacheBytes = parse.GetValue(imageCache) ?? AgentOptions.DefaultImageCacheBytes,
                GatewayListen = parse.GetValue(gatewayListen),
                GatewayListenTls = parse.GetValue(gatewayListenTls),
                GatewayCertificate = parse.GetValue(gatewayCertificate),
                GatewayKey = parse.GetValue(gatewayKey),
                Gpus = gpus,
                Latitude = parse.GetValue(latitude),
                Longitude = parse.GetValue(longitude),
            };
            using var logging = LoggerFactory.Create(b => b.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            }));
            await using var node = new NodeAgent(options, logging.CreateLogger<NodeAgent>());

            // SIGHUP: exit leaving the workloads running, for the next agent (an upgraded binary) to re-adopt.
            using var handOver = PosixSignalRegistration.Create(PosixSignal.SIGHUP, signal =>
            {
                signal.Cancel = true;
                _ = node.HandOverAsync();
            });

            // Cancelled on SIGTERM or Ctrl-C: RunAsync then stops the workloads before returning.
            await node.RunAsync(cancellationToken);
            return 0;
        });
        return agent;
    }

    /// <summary>Reads <c>FIRST-LAST</c>; null when it is not a range within 1-65535.</summary>
    internal static (int First, int Last)? ParsePortRange(string text)
    {
        var parts = text.Split('-', 2, StringSplitOptions.TrimEntries);
        return parts.Length == 2 && int.TryParse(parts[0], out var first) && int.TryParse(parts[1], out var last)
            && first is >= 1 and <= 65535 && last >= first && last <= 65535
            ? (first, last)
            : null;
    }

    private static Command Register(Option<string> workDir)
    {
        var farm = new Option<long>("--farm") { Description = "Farm id", Required = true };
        var country = new Option<string>("--country") { Description = "Country of the node", DefaultValueFactory = _ => "Unknown" };
        var city = new Option<string>("--city") { Description = "City of the node", DefaultValueFactory = _ => "Unknown" };
        var certification = new Option<NodeCertification?>("--certification") { Description = "diy (default) or certified" };
        var register = new Command("register", "Detect this machine's capacity, register it as a node and save the credentials in the work directory")
        {
            farm, country, city, certification,
        };
        register.SetApiAction(
            async (parse, api, ct) =>
            {
                var dir = Path.GetFullPath(parse.GetValue(workDir)!);
                var capacity = CapacityDetector.Detect(dir);

                // The key pair is made here and its private half stays in the work directory (owner-only).
                var signing = NodeSigningKey.Create(dir);
                var request = new CreateNodeRequest(
                    parse.GetValue(farm), ResourcesRequest.Of(capacity), new LocationRequest(parse.GetValue(country)!, parse.GetValue(city)!),
                    parse.GetValue(certification), signing.PublicKey);
                var (node, raw) = await api.RegisterNodeAsync(request, ct);
                new NodeCredentials(CommonOptions.ApiUrl(parse), node.NodeId, node.NodeKey).Save(dir);
                parse.InvocationConfiguration.Output.WriteLine(
                    $"node {node.NodeId} registered with cru={capacity.Cru} mru={ByteSize.Format(capacity.Mru)} sru={ByteSize.Format(capacity.Sru)} hru=0; credentials in {Path.Combine(dir, NodeCredentials.FileName)}");
                return raw;
            },
            (output, _) => output.WriteLine("start it with: grid agent --workdir <dir> [--allow-process-workloads]"));
        return register;
    }

    /// <summary>The agent's work directory; a recursive option so <c>agent register</c> shares it.</summary>
    private static Option<string> WorkDirOption() => new("--workdir")
    {
        Description = "Work directory: node.json, pids.json and workloads/ (default: $GRID_WORKDIR, else ./grid-agent)",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("GRID_WORKDIR") ?? "grid-agent",
    };
}
