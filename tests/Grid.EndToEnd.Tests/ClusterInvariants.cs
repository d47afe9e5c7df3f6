using System.Text.Json.Nodes;
using Grid.Testing;

namespace Grid.EndToEnd.Tests;

/// <summary>The no-loss checks after a failure: acknowledged reservations exist, ledgers match them exactly.</summary>
public static class ClusterInvariants
{
    /// <summary>
    /// Waits (the orphan check needs an interval) until every node ledger matches the active reservations: those the
    /// load saw acknowledged and <paramref name="alsoActive"/> (the test's own, made outside the load).
    /// </summary>
    public static async Task AssertConsistentAsync(
        GridProcesses grid, SiloProcess via, string apiKey, ClusterLoad load, IEnumerable<long> nodeIds, IReadOnlyCollection<long>? alsoActive = null)
    {
        var nodes = nodeIds.ToList();
        string? problem = null;
        try
        {
            await Poll.UntilAsync(async () => (problem = await FindProblemAsync(grid, via, apiKey, load, nodes, alsoActive ?? [])) is null,
                TimeSpan.FromSeconds(45), "the node ledgers to match the acknowledged reservations");
        }
        catch (TimeoutException)
        {
            Assert.Fail(problem);
        }
    }

    private static async Task<string?> FindProblemAsync(
        GridProcesses grid, SiloProcess via, string apiKey, ClusterLoad load, List<long> nodes, IReadOnlyCollection<long> alsoActive)
    {
        var placedOn = new Dictionary<long, long>();
        var ips = new List<string>();
        foreach (var id in load.Active.Concat(alsoActive))
        {
            var reservation = await GetAsync(grid, via, $"/api/v1/reservations/{id}", apiKey);
            if (reservation?["state"]?.GetValue<string>() != "active")
            {
                return $"acknowledged reservation {id} is {reservation?["state"]?.ToString() ?? "missing"}";
            }

            placedOn[id] = reservation["nodeId"]!.GetValue<long>();
            ips.AddRange(reservation["publicIps"]!.AsArray().Select(ip => ip!["ip"]!.GetValue<string>()));
        }

        foreach (var id in load.Cancelled)
        {
            if ((await GetAsync(grid, via, $"/api/v1/reservations/{id}", apiKey))?["state"]?.GetValue<string>() != "cancelled")
            {
                return $"cancelled reservation {id} is not cancelled";
            }
        }

        if (ips.Count != ips.Distinct().Count())
        {
            return "a public IPv4 address is held by two reservations";
        }

        foreach (var nodeId in nodes)
        {
            if (await GetAsync(grid, via, $"/api/v1/nodes/{nodeId}", apiKey) is not { } node)
            {
                return $"node {nodeId} could not be read";
            }

            var total = node["total"]!;
            var used = node["used"]!;
            if (used["cru"]!.GetValue<long>() > total["cru"]!.GetValue<long>() || used["mru"]!.GetValue<long>() > total["mru"]!.GetValue<long>())
            {
                return $"node {nodeId} is overbooked";
            }

            var held = node["allocations"]!.AsArray().Select(a => a!["reservationId"]!.GetValue<long>()).ToHashSet();
            var expected = placedOn.Where(p => p.Value == nodeId).Select(p => p.Key).ToHashSet();
            if (held.Except(expected).FirstOrDefault() is > 0 and var orphan)
            {
                return $"node {nodeId} holds an allocation for reservation {orphan}, which is not active there";
            }

            if (!expected.IsSubsetOf(held))
            {
                return $"node {nodeId} lost the allocation of reservations {string.Join(",", expected.Except(held))}";
            }
        }

        return null;
    }

    /// <summary>A read for a condition that is polled: null when it failed (an error answer, a dropped connection), to be asked again.</summary>
    public static async Task<JsonNode?> GetAsync(GridProcesses grid, SiloProcess via, string path, string apiKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new("Bearer", apiKey);
        try
        {
            using var response = await via.Http.SendAsync(request);
            return response.IsSuccessStatusCode ? JsonNode.Parse(await response.Content.ReadAsStringAsync()) : null;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }
}
