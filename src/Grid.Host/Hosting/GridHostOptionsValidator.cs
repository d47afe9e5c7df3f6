using Grid.Hosting;

namespace Grid.Host.Hosting;

/// <summary>
/// Checks <c>Grid</c> (storage, <c>Grid:Cluster</c>, <c>Grid:Demo</c>) at start; every wrong value is one reason naming
/// its key. TLS files and the PostgreSQL connection string are checked where the silo is configured.
/// </summary>
public sealed class GridHostOptionsValidator() : SettingsValidator<GridHostOptions>(GridHostOptions.Section)
{
    protected override void Check(SettingsCheck check, GridHostOptions options)
    {
        var cluster = options.Cluster;
        check
            .Require(Enum.IsDefined(options.Storage), nameof(options.Storage), options.Storage, "must be memory or postgres.")
            .Require(!string.IsNullOrWhiteSpace(cluster.ClusterId), "Cluster:ClusterId", cluster.ClusterId, "must be set.")
            .Require(!string.IsNullOrWhiteSpace(cluster.ServiceId), "Cluster:ServiceId", cluster.ServiceId, "must be set.")
            .Between("Cluster:SiloPort", cluster.SiloPort, 1, 65535)
            .Between("Cluster:GatewayPort", cluster.GatewayPort, 1, 65535)
            .Require(cluster.GatewayPort != cluster.SiloPort, "Cluster:GatewayPort", cluster.GatewayPort,
                "must differ from Grid:Cluster:SiloPort: silos and clients connect on separate ports.")
            .Positive("Cluster:ProbeTimeout", cluster.ProbeTimeout)
            .Between("Cluster:NumMissedProbesLimit", cluster.NumMissedProbesLimit, 1, 100)
            .Positive("Cluster:TableRefreshTimeout", cluster.TableRefreshTimeout)
            .NotNegative("Cluster:StorageLossTimeout", cluster.StorageLossTimeout)
            .Require(options.Demo.Nodes is null or >= 0, "Demo:Nodes", options.Demo.Nodes, "must not be negative.");
    }
}
