using System.Collections.Immutable;

namespace Grid.Names;

/// <summary>
/// Whether each backend of a name gets traffic, from its workload's state, its reservation's state and what the
/// gateways' health checks report: <c>moving</c> while the reservation migrates or waits for a node, or while the
/// workload starts again at a later epoch (a move); <c>not-running</c> when the workload does not run (or publishes
/// no such port); otherwise <c>healthy</c> once at least one gateway's check passed, else <c>unhealthy</c>.
/// </summary>
public static class NameBackendStates
{
    /// <summary>The backends of <paramref name="name"/> with their states.</summary>
    public static ImmutableArray<NameBackendStatus> Of(
        NameDefinition name,
        IReadOnlyDictionary<long, WorkloadInfo?> workloads,
        IReadOnlyDictionary<long, ReservationState?> reservations,
        ImmutableArray<DestinationHealth> health)
    {
        var byDestination = health.ToDictionary(h => h.DestinationId, StringComparer.Ordinal);
        var urls = 0;
        return [.. name.Backends.Select(backend =>
        {
            if (backend.Url is { } url)
            {
                var (state, reason) = Probed(byDestination, RouteTable.UrlDestinationId(urls++));
                return new NameBackendStatus(null, null, url, state, reason);
            }

            var id = backend.WorkloadId!.Value;
            var workload = workloads.GetValueOrDefault(id);
            var (s, r) = workload is null
                ? (BackendState.NotRunning, "workload deleted")
                : OfWorkload(workload, backend.Port!, reservations.GetValueOrDefault(workload.ReservationId), byDestination);
            return new NameBackendStatus(id, backend.Port, null, s, r);
        })];
    }

    private static (BackendState, string?) OfWorkload(
        WorkloadInfo workload, string port, ReservationState? reservation, Dictionary<string, DestinationHealth> health)
    {
        if (reservation is ReservationState.Migrating or ReservationState.Lost or ReservationState.Unschedulable)
        {
            return (BackendState.Moving, $"reservation {reservation.Value.ToString().ToLowerInvariant()}");
        }

        if (workload.State == WorkloadState.Running)
        {
            return workload.Endpoints.Any(e => e.Name == port)
                ? Probed(health, RouteTable.DestinationId(workload.WorkloadId, port))
                : (BackendState.NotRunning, $"port {port} is not published");
        }

        var state = workload.State.ToString().ToLowerInvariant();
        if (RouteTable.IsOnItsWay(workload.State))
        {
            // A later epoch is a move: the copy on the new node is starting.
            return workload.Epoch > 1
                ? (BackendState.Moving, $"{state} on node {workload.NodeId} after a move")
                : (BackendState.NotRunning, $"workload {state}");
        }

        return (BackendState.NotRunning, workload.Reason is { } why ? $"workload {state}: {why}" : $"workload {state}");
    }

    private static (BackendState, string?) Probed(Dictionary<string, DestinationHealth> health, string destination) =>
        health.TryGetValue(destination, out var report)
            ? report.Healthy ? (BackendState.Healthy, null) : (BackendState.Unhealthy, report.Reason ?? "health check failed")
            : (BackendState.Unhealthy, "no gateway has passed its health check yet");
}
