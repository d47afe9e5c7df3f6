namespace Grid.Agent.Runtimes.Containers;

/// <summary>An image could not be made ready on this node; <see cref="Reason"/> is one of <see cref="WorkloadReasons"/>.</summary>
/// <param name="reason">The machine-readable reason.</param>
/// <param name="message">What went wrong, for the tenant (never credentials).</param>
internal sealed class ImagePullException(string reason, string message) : Exception(message)
{
    /// <summary>The machine-readable reason (<see cref="WorkloadReasons"/>).</summary>
    public string Reason { get; } = reason;
}
