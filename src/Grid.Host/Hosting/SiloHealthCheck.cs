using Grid.Grains;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Runtime;

namespace Grid.Host.Hosting;

/// <summary>Ready when this silo is an active cluster member and a grain call through it completes.</summary>
public sealed class SiloHealthCheck(IClusterMembershipService membership, ILocalSiloDetails silo, IGrainFactory grains) : IHealthCheck
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var self = membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress);
        if (self != SiloStatus.Active)
        {
            return HealthCheckResult.Unhealthy($"Silo is {self}.");
        }

        try
        {
            await grains.GetGrain<ICapacityIndexGrain>(0).PingAsync().WaitAsync(Timeout, cancellationToken);
            return HealthCheckResult.Healthy("Silo active; grain calls answer.");
        }
        catch (Exception exception)
        {
            return HealthCheckResult.Unhealthy($"Grain call failed: {exception.GetType().Name}");
        }
    }
}
