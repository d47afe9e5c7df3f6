using System.Collections.Immutable;
using Grid.Agent.Gateway;
using Grid.Agent.Link;
using Grid.Agent.Reconciling;
using Grid.Agent.Runtimes;
using Grid.Agent.Runtimes.Containers;
using Grid.Agent.Runtimes.Networking;
using Grid.Agent.Runtimes.Processes;
using Grid.Agent.Runtimes.Volumes;
using Grid.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Grid.Agent;

/// <summary>
/// The node agent: heartbeats to the controller and reconciles the workloads it answers with (pull model). It
/// composes three rooms: the <see cref="ControllerLink"/> (heartbeats, long-poll, self-fencing), the
/// <see cref="WorkloadSupervisor"/> (desired against held workloads, restarts, by the <see cref="Reconciler"/>'s
/// decisions) and one runtime per workload type. <c>process</c> workloads run as child processes under
/// <c>&lt;workdir&gt;/workloads/&lt;id&gt;-e&lt;epoch&gt;/</c> (<see cref="ProcessRuntime"/>), restarted with exponential
/// backoff when they exit; workloads no longer desired or at a stale epoch are stopped; other types are modelled
/// and reported running. PIDs are remembered in <see cref="PidFile"/> so an agent restarted after a crash
/// re-adopts its orphans and keeps or stops them as the controller says. <c>container</c> workloads run with
/// runc (<see cref="ContainerRuntime"/>) when the node has the <c>container</c> feature, detected at start with
/// the others (<see cref="FeatureDetector"/>) and reported with every heartbeat.
/// </summary>
/// <param name="options">Settings; validated when <see cref="RunAsync"/> starts.</param>
/// <param name="logger">Optional logger.</param>
/// <param name="timeProvider">Clock for intervals, backoff and self-fencing; defaults to the system clock.</param>
public sealed partial class NodeAgent(AgentOptions options, ILogger<NodeAgent>? logger = null, TimeProvider? timeProvider = null)
    : IAsyncDisposable
{
    private readonly ILogger _logger = logger ?? NullLogger<NodeAgent>.Instance;
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly HttpClient _http = GridApiClient.CreateHttpClient(options.ApiUrl, options.RequestTimeout);
    private readonly CancellationTokenSource _abandon = new();
    private readonly TaskCompletionSource _loopEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ControllerLink? _link;
    private WorkloadSupervisor? _supervisor;
    private GatewayServer? _gateway;
    private PortPublisher? _ports;
    private ImageStore? _images;
    private ImmutableArray<WorkloadReport> _snapshot = [];
    private bool _beatNow;
    private int _started;
    private int _disposed;

    /// <summary>What the agent reported (or will report) about its workloads, as of its last loop turn.</summary>
    public ImmutableArray<WorkloadReport> Workloads => _snapshot;

    /// <summary>
    /// Heartbeats and reconciles until <paramref name="cancellationToken"/> is cancelled (SIGTERM, Ctrl-C), then
    /// stops every workload process cleanly. Ending through <see cref="HandOverAsync"/> or <see cref="DisposeAsync"/>
    /// instead leaves them running.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        options.Validate();
        if (Interlocked.Exchange(ref _started, 1) == 1)
        {
            throw new InvalidOperationException("The agent is already running.");
        }

        // Made once the options are known valid (the restart policy's delays, the link's timing).
        using var loop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _abandon.Token);
        var features = await FeatureDetector.DetectAsync(options, loop.Token);
        var address = await FeatureDetector.AddressAsync(options, loop.Token);
        LogFeatures(options.NodeId, string.Join(", ", features.Features), address);
        foreach (var (feature, why) in features.Missing)
        {
            LogFeatureMissing(feature, why);
        }

        var gpus = options.Gpus.Count > 0 ? [.. options.Gpus] : await Devices.GpuDetector.DetectAsync(cancellationToken: loop.Token);
        var link = _link = new ControllerLink(options, new GridApiClient(_http), _time, _logger)
        {
            Features = features.Features,
            Address = address,

            // The controller holds the cache's cap out of the node's sru: reservations never get the disk it may fill.
            ImageCache = () => _images?.Usage(),
            Gpus = gpus.IsEmpty ? null : gpus,
        };
        var supervisor = _supervisor = new WorkloadSupervisor(
            Runtimes(features, address),
            new RestartPolicy(options.RestartBackoffInitial, options.RestartBackoffMax),
            _time,
            _logger);
        try
        {
            // A gateway node proxies names in-process (issue 22); its routes come with the heartbeat answers.
            if (options.GatewayListen is not null)
            {
                _gateway = new GatewayServer(options, address, _logger, _time);
                await _gateway.StartAsync(loop.Token);
            }

            var startedAt = _time.GetUtcNow();
            link.Begin(startedAt);
            LogStarting(options.NodeId, options.ApiUrl, options.WorkDir, options.AllowProcessWorkloads ? "allowed" : "refused");
            await supervisor.AdoptAsync(loop.Token);
            var watch = options.WatchDesired ? link.WatchDesiredAsync(loop.Token) : Task.CompletedTask;
            var nextHeartbeat = startedAt;
            while (!loop.IsCancellationRequested)
            {
                _beatNow |= await supervisor.SuperviseAsync();
                if (_time.GetUtcNow() >= nextHeartbeat || _beatNow)
                {
                    _beatNow = false;
                    nextHeartbeat = _time.GetUtcNow() + link.Interval;
                    await HeartbeatAsync(link, supervisor, loop.Token);
                }

                if (link.FenceDue() is { } silence)
                {
                    LogFencing(silence, supervisor.RunningCount);
                    await supervisor.StopRunningAsync($"self-fenced: controller unreachable for {silence.TotalSeconds:0.#}s");
                }

                _snapshot = supervisor.Snapshot();
                if (_beatNow)
                {
                    // What was just started or stopped is reported at once, not one interval later.
                    continue;
                }

                var untilHeartbeat = nextHeartbeat - _time.GetUtcNow();
                var wait = untilHeartbeat < options.SupervisionInterval ? untilHeartbeat : options.SupervisionInterval;
                await Task.WhenAny(Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, _time, loop.Token), link.DesiredChanged, supervisor.StartEnded);

                // The long-poll saw the desired workloads change: the heartbeat's answer brings them now.
                _beatNow |= link.TakeDesiredChange();
            }

            await watch;
        }
        catch (OperationCanceledException) when (loop.IsCancellationRequested)
        {
            // Normal end of the loop.
        }
        finally
        {
            if (!_abandon.IsCancellationRequested)
            {
                await supervisor.StopRunningAsync("the agent is shutting down");
            }

            _snapshot = supervisor.Snapshot();
            if (_gateway is not null)
            {
                await _gateway.DisposeAsync();
            }

            // Its forwarders live in this process; the state file keeps the ports of running containers for the next agent.
            if (_ports is not null)
            {
                await _ports.DisposeAsync();
            }

            _loopEnded.TrySetResult();
        }
    }

    /// <summary>
    /// Ends the loop leaving every workload running (processes, containers, their volumes and networks) for the next
    /// agent on this work directory to re-adopt: an in-place upgrade (<c>grid agent</c> does this on SIGHUP). The
    /// next agent must start before the controller's heartbeat timeout, or the node is declared down and its
    /// workloads are moved. <see cref="RunAsync"/> then returns.
    /// </summary>
    public async Task HandOverAsync()
    {
        if (!_abandon.IsCancellationRequested)
        {
            LogHandingOver(GridRelease.Version, _supervisor?.RunningCount ?? 0);
        }

        await _abandon.CancelAsync();
        if (Volatile.Read(ref _started) == 1)
        {
            await _loopEnded.Task;
        }
    }

    /// <summary>
    /// Ends the loop as a crash would: workload processes keep running and stay in the PID file for the next
    /// agent on this work directory to re-adopt. Cancel the token given to <see cref="RunAsync"/> for a clean stop.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await HandOverAsync();

        _supervisor?.Dispose();
        _http.Dispose();
        _abandon.Dispose();
    }

    /// <summary>
    /// One runtime per workload type this node runs or refuses: processes; containers when the node has the
    /// feature, else refused with the reason; VMs refused without KVM (with it they stay modelled); zdb unsupported.
    /// Gateways stay modelled.
    /// </summary>
    private List<IWorkloadRuntime> Runtimes(DetectedFeatures features, string address)
    {
        var volumes = new VolumeRuntime(options, _logger);
        var runtimes = new List<IWorkloadRuntime> { new ProcessRuntime(options, _time, _logger), volumes, RefusingRuntime.Unsupported(WorkloadType.Zdb) };
        if (features.Has(NodeFeatures.Container))
        {
            var networks = new PodNetworks(options, _logger);
            var ports = _ports = new PortPublisher(options, _logger, address, _time);

            // The container runtime tells which of its containers still run; the pod networks and ports keep theirs.
            var containers = new ContainerRuntime(options, _time, _logger, volumes, networks, ports, async (alive, cancellationToken) =>
            {
                await networks.AdoptAsync(alive, cancellationToken);
                await ports.AdoptAsync(alive, cancellationToken);
            });
            _images = containers.Images;
            runtimes.Add(containers);
        }
        else
        {
            runtimes.Add(RefusingRuntime.MissingFeature(WorkloadType.Container, NodeFeatures.Container, features.Missing[NodeFeatures.Container]));
        }

        if (!features.Has(NodeFeatures.Kvm))
        {
            runtimes.Add(RefusingRuntime.MissingFeature(WorkloadType.Vm, NodeFeatures.Kvm, features.Missing[NodeFeatures.Kvm]));
        }

        return runtimes;
    }

    /// <summary>Reports the workloads; with the controller's answer, reconciles them to what it desires.</summary>
    private async Task HeartbeatAsync(ControllerLink link, WorkloadSupervisor supervisor, CancellationToken cancellationToken)
    {
        var batch = supervisor.Outgoing();
        var gateway = _gateway?.Outgoing();
        if (await link.HeartbeatAsync(batch.Reports, cancellationToken, gateway) is not { } response)
        {
            return;
        }

        supervisor.Delivered(batch);
        if (gateway is not null)
        {
            _gateway!.Delivered(gateway, response);
        }

        try
        {
            _beatNow |= await supervisor.ReconcileAsync(response.Desired.IsDefault ? [] : response.Desired, response.Notices ?? default);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogReconcileFailed(e);
        }
    }
}
