namespace Grid.Agent.Runtimes.Volumes;

/// <summary>
/// Where the reservation's volumes are mounted on this machine, for the container runtime to bind into its
/// containers. Implemented by the volume runtime, which creates a volume when its <c>volume</c> workload starts.
/// </summary>
internal interface IVolumeMounts
{
    /// <summary>
    /// The host folder where volume <paramref name="name"/> of reservation <paramref name="reservationId"/> is mounted
    /// (a filesystem of exactly its size, writable by the container's mapped root); null while it is not (yet) there.
    /// </summary>
    string? HostPath(long reservationId, string name);

    /// <summary>
    /// Completes when the start of volume <paramref name="name"/> of reservation <paramref name="reservationId"/> under
    /// way ends, at once when none is: a node that takes over a reservation starts its volumes and containers together.
    /// </summary>
    Task StartedAsync(long reservationId, string name);
}
