using System.Collections.Immutable;
using System.Globalization;
using Grid.Client;
using Microsoft.Extensions.Logging;

namespace Grid.Agent.Link;

/// <summary>
/// The agent's side of its contract with the controller: heartbeats (liveness, workload reports, the desired
/// workloads in the answer), the long-poll that hears of desired changes between heartbeats, the timing the
/// controller asks for, and self-fencing: an agent cut off from the controller longer than the controller waits
/// before moving its workloads must stop them, so no workload runs twice.
/// </summary>
/// <param name="options">The agent's settings.</param>
/// <param name="api">Client of the controller's HTTP API.</param>
/// <param name="time">Clock of intervals and of the fencing deadline.</param>
/// <param name="logger">Where contact, loss of contact and fencing are logged.</param>
internal sealed partial class ControllerLink(AgentOptions options, GridApiClient api, TimeProvider time, ILogger logger)
{
    private static readonly TimeSpan MinRequestTime = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MinLatencyMargin = TimeSpan.FromMilliseconds(250);

    private readonly ILogger _logger = logger;
    private volatile TaskCompletionSource _desiredChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private DateTimeOffset _startedAt;
    private DateTimeOffset _lastContact;
    private bool _fenced;
    private TimeSpan? _fenceAfter = options.StopOnDisconnectAfter;
    private long _desiredVersion = -1;
    private DesiredWorkloads? _held;
    private bool? _draining;
    private ReportChanges? _reports;

    /// <summary>Time between heartbeats: the operator's, else the controller's once it has answered.</summary>
    public TimeSpan Interval { get; private set; } = options.HeartbeatInterval;

    /// <summary>What the node can run (<see cref="NodeFeatures"/>), sent with every heartbeat.</summary>
    public ImmutableArray<string> Features { get; init; } = [];

    /// <summary>The address published ports are reached at, sent with every heartbeat; null when unknown.</summary>
    public string? Address { get; init; }

    /// <summary>The node's image cache (bytes used, cap), sent with every heartbeat; null (or answering null) without containers.</summary>
    public Func<ImageCacheUsage?>? ImageCache { get; init; }

    /// <summary>The node's GPUs, sent with every heartbeat; null when it has none to tell (the registration's stand).</summary>
    public ImmutableArray<GpuDevice>? Gpus { get; init; }

    /// <summary>Completes when the long-poll saw the desired workloads change; see <see cref="TakeDesiredChange"/>.</summary>
    public Task DesiredChanged => _desiredChanged.Task;

    /// <summary>
    /// Where the last contact and the fencing limit are kept across restarts: <c>&lt;work dir&gt;/link.txt</c>, two numbers
    /// (Unix milliseconds of the last heartbeat the controller answered, the limit in milliseconds, 0 for the default).
    /// </summary>
    public string StatePath => Path.Combine(options.WorkDir, "link.txt");

    /// <summary>
    /// Starts the clocks of uptime and of the fencing deadline. The deadline counts from the last contact the work
    /// directory remembers (a restarted or upgraded agent's predecessor's), with the limit the controller last asked
    /// for, so an agent restarted after a long cut stops the workloads it re-adopts at once instead of running them for
    /// another full limit while the controller has moved them; without a remembered contact, from now.
    /// </summary>
    public void Begin(DateTimeOffset now)
    {
        _startedAt = _lastContact = now;
        if (ReadState() is not var (lastContact, fenceAfter))
        {
            return;
        }

        if (lastContact < now)
        {
            _lastContact = lastContact;
        }

        if (fenceAfter is { } limit && _fenceAfter is not null && !options.StopOnDisconnectAfterGiven)
        {
            _fenceAfter = limit;
        }
    }

    /// <summary>True (once per change) when the desired workloads changed since the last call: the next heartbeat brings them.</summary>
    public bool TakeDesiredChange()
    {
        if (!_desiredChanged.Task.IsCompleted)
        {
            return false;
        }

        _desiredChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
        return true;
    }

    /// <summary>
    /// Sends one heartbeat with <paramref name="reports"/>, every report the agent has (only those that changed since the
    /// version the controller acknowledged go on the wire: <see cref="ReportChanges"/>), and, on a gateway node, its
    /// <paramref name="gateway"/> report; the controller's answer, or null without contact.
    /// </summary>
    public async Task<HeartbeatResponse?> HeartbeatAsync(ImmutableArray<WorkloadReport> reports, CancellationToken cancellationToken, Gateway.GatewayReport? gateway = null)
    {
        var sentAt = time.GetUtcNow();
        var uptime = (long)(sentAt - _startedAt).TotalSeconds;
        HeartbeatResponse response;

        // A request into a cut link must not outlast the fencing deadline: the fence is checked between requests.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (_fenceAfter is { } fence && !_fenced)
        {
            var left = _lastContact + fence - sentAt;
            deadline.CancelAfter(left > MinRequestTime ? left : MinRequestTime);
        }

        try
        {
            // Only what changed since the reports the controller acknowledged (every report until it has).
            _reports ??= new ReportChanges(sentAt.ToUnixTimeMilliseconds());
            var (workloads, version, changeOf) = _reports.Next(reports);
            var heartbeat = new Heartbeat(uptime, workloads)
            {
                Features = Features,
                Address = Address,
                ImageCache = ImageCache?.Invoke(),
                AgentVersion = GridRelease.Version,
                Gpus = Gpus,
                Latitude = options.Latitude,
                Longitude = options.Longitude,
                DesiredVersion = _held?.Version,
                ReportsVersion = version,
                ReportsBase = changeOf,
            };
            heartbeat = gateway?.AddTo(heartbeat) ?? heartbeat;
            response = await api.HeartbeatAsync(options.NodeId, options.NodeKey, heartbeat, deadline.Token, options.SigningKey);
        }
        catch (HttpRequestException e)
        {
            LogUnreachable(e.Message, e);
            return null;
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            LogUnreachable($"no answer within {options.RequestTimeout}", e);
            return null;
        }
        catch (GridApiException e)
        {
            // A rejected heartbeat (wrong key, unknown node) is no contact either: fencing still applies.
            LogRejected(e.Status, e);
            return null;
        }

        var now = time.GetUtcNow();
        if (_fenced)
        {
            LogReconnected(now - _lastContact);
            _fenced = false;
        }

        // Counted from the send: the controller saw this heartbeat no earlier, so its timeout runs from no earlier.
        _lastContact = sentAt;
        _reports!.Answered(response.ReportsAcknowledged);
        FollowController(response, now - sentAt);
        WriteState();
        Interlocked.Exchange(ref _desiredVersion, response.DesiredVersion);
        if (_draining != response.Draining)
        {
            _draining = response.Draining;
            LogDraining(options.NodeId, response.Draining);
        }

        return Held(response);
    }

    /// <summary>
    /// The answer with its desired workloads: those it lists (kept, with their version), or, when the controller says
    /// they are unchanged, the list kept at that version. Null (nothing to reconcile this time; the next heartbeat asks
    /// for the whole list) when the controller says "unchanged" of a version this agent does not hold.
    /// </summary>
    private HeartbeatResponse? Held(HeartbeatResponse response)
    {
        if (!response.DesiredUnchanged)
        {
            _held = new DesiredWorkloads(response.DesiredVersion, response.Desired.IsDefault ? [] : response.Desired);
            return response;
        }

        if (_held is { } held && held.Version == response.DesiredVersion)
        {
            return response with { Desired = held.Desired };
        }

        LogUnchangedUnknown(response.DesiredVersion, _held?.Version);
        _held = null;
        return null;
    }

    /// <summary>
    /// How long the controller has been silent, once (until contact is back) when that is longer than the agent may
    /// run its workloads unheard: the controller has most likely moved them elsewhere. Null otherwise.
    /// </summary>
    public TimeSpan? FenceDue()
    {
        if (_fenceAfter is not { } limit || _fenced)
        {
            return null;
        }

        var silence = time.GetUtcNow() - _lastContact;
        if (silence <= limit)
        {
            return null;
        }

        _fenced = true;
        return silence;
    }

    /// <summary>
    /// Long-polls the controller for changes of the desired workloads and completes <see cref="DesiredChanged"/>
    /// when they change; the heartbeat stays the liveness signal and brings the workloads themselves.
    /// </summary>
    public async Task WatchDesiredAsync(CancellationToken cancellationToken)
    {
        var wait = options.RequestTimeout - TimeSpan.FromSeconds(1);
        wait = wait > TimeSpan.FromMilliseconds(500) ? wait : options.RequestTimeout / 2;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var known = Interlocked.Read(ref _desiredVersion);
                var answer = await api.WatchDesiredAsync(options.NodeId, options.NodeKey, known, wait, cancellationToken, options.SigningKey);
                if (Interlocked.CompareExchange(ref _desiredVersion, answer.Version, known) == known && answer.Version != known)
                {
                    _desiredChanged.TrySetResult();
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or GridApiException or System.Text.Json.JsonException)
            {
                // An older controller without the long-poll, or no contact: heartbeats carry on alone; try again later.
                try
                {
                    await Task.Delay(Interval, time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private (DateTimeOffset LastContact, TimeSpan? FenceAfter)? ReadState()
    {
        try
        {
            var parts = File.Exists(StatePath) ? File.ReadAllText(StatePath).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
            if (parts is [var at, var limit]
                && long.TryParse(at, NumberStyles.None, CultureInfo.InvariantCulture, out var atMs)
                && long.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var limitMs))
            {
                return (DateTimeOffset.FromUnixTimeMilliseconds(Math.Min(atMs, DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())),
                    limitMs > 0 ? TimeSpan.FromMilliseconds(limitMs) : null);
            }

            if (parts.Length > 0)
            {
                LogStateIgnored(StatePath, "not two numbers", null);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogStateIgnored(StatePath, e.Message, e);
        }

        return null;
    }

    /// <summary>Remembers the last contact and the limit (written aside and renamed, so a crash leaves the old or the new).</summary>
    private void WriteState()
    {
        try
        {
            var learned = options.StopOnDisconnectAfterGiven || _fenceAfter is null ? 0 : (long)_fenceAfter.Value.TotalMilliseconds;
            var temporary = StatePath + ".new";
            File.WriteAllText(temporary, string.Create(CultureInfo.InvariantCulture, $"{_lastContact.ToUnixTimeMilliseconds()} {learned}\n"));
            File.Move(temporary, StatePath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Fencing still runs on the clock in memory; only a restart's would start afresh.
            LogStateIgnored(StatePath, e.Message, e);
        }
    }

    /// <summary>
    /// Takes the controller's heartbeat interval and fences before its timeout can pass: the timeout minus one
    /// interval (a heartbeat may be missed just before the cut) and the request latency — unless the operator chose.
    /// </summary>
    private void FollowController(HeartbeatResponse response, TimeSpan latency)
    {
        if (response.HeartbeatIntervalMs > 0 && !options.HeartbeatIntervalGiven)
        {
            Interval = TimeSpan.FromMilliseconds(response.HeartbeatIntervalMs);
        }

        if (response.HeartbeatTimeoutMs > 0 && !options.StopOnDisconnectAfterGiven)
        {
            var timeout = TimeSpan.FromMilliseconds(response.HeartbeatTimeoutMs);
            var margin = latency * 2 > MinLatencyMargin ? latency * 2 : MinLatencyMargin;
            var fence = timeout - Interval - (margin < options.RequestTimeout ? margin : options.RequestTimeout);
            _fenceAfter = fence > timeout / 4 ? fence : timeout / 4;
        }
    }
}
