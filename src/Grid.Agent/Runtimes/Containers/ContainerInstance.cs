using System.Collections.Immutable;
using System.Text.Json;

namespace Grid.Agent.Runtimes.Containers;

/// <summary>
/// One container instance as the runtime remembers it in <c>containers.json</c>, so an agent restarted after a crash
/// finds what it started (with <c>runc list</c>) and can keep it or clean up after it.
/// </summary>
/// <param name="WorkloadId">The workload.</param>
/// <param name="Epoch">The placement epoch it runs for.</param>
/// <param name="ReservationId">Its reservation (the pod network it shares).</param>
/// <param name="Id">runc's container id: names the node, the workload and the epoch.</param>
/// <param name="Folder">The instance's folder: bundle, writable layer, output and exit status.</param>
/// <param name="Digest">The image digest it runs.</param>
/// <param name="Ports">The container ports it publishes.</param>
/// <param name="Endpoints">Where they are reached.</param>
internal sealed record ContainerInstance(
    long WorkloadId,
    long Epoch,
    long ReservationId,
    string Id,
    string Folder,
    string Digest,
    ImmutableArray<ContainerPort> Ports,
    ImmutableArray<WorkloadEndpoint> Endpoints)
{
    /// <summary>The workload at its epoch.</summary>
    public WorkloadKey Key => new(WorkloadId, Epoch);

    /// <summary>The digest's hex: the cached image it runs from.</summary>
    public string Hex => Digest["sha256:".Length..];

    /// <summary>The runtime's state file in <paramref name="workDir"/>.</summary>
    public static string StateFile(string workDir) => Path.Combine(workDir, "containers.json");

    /// <summary>The instances remembered in <paramref name="workDir"/>; none when the file is missing.</summary>
    public static IReadOnlyList<ContainerInstance> Load(string workDir) =>
        File.Exists(StateFile(workDir)) ? JsonSerializer.Deserialize<List<ContainerInstance>>(File.ReadAllText(StateFile(workDir))) ?? [] : [];

    /// <summary>Remembers <paramref name="instances"/> (a crash mid-write leaves the previous list).</summary>
    public static void Save(string workDir, IEnumerable<ContainerInstance> instances)
    {
        Directory.CreateDirectory(workDir);
        AtomicFile.WriteAllText(StateFile(workDir), JsonSerializer.Serialize(instances.OrderBy(i => i.WorkloadId).ToList()));
    }
}
