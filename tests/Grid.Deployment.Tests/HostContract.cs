using Grid.Host.Hosting;
using Orleans.Hosting.Kubernetes;

namespace Grid.Deployment.Tests;

/// <summary>
/// What Grid.Host reads and serves, in the one place the deployment tests take it from. The paths mirror the
/// constants of <c>Grid.Host.GridEndpoints</c>; the configuration keys and defaults mirror the host's options
/// (<c>Grid:Storage</c>, <c>ConnectionStrings:Grid</c>, <c>Grid:Cluster:*</c>) in their environment-variable form.
/// The Orleans Kubernetes hosting names come from the Orleans package itself.
/// </summary>
public static class HostContract
{
    public const string LivePath = GridEndpoints.LivePath;
    public const string ReadyPath = GridEndpoints.ReadyPath;
    public const string MetricsPath = GridEndpoints.MetricsPath;

    public const string Urls = "ASPNETCORE_URLS";
    public const string Storage = "Grid__Storage";
    public const string PostgresStorage = "postgres";
    public const string ConnectionString = "ConnectionStrings__Grid";
    public const string ClusterId = "Grid__Cluster__ClusterId";
    public const string ServiceId = "Grid__Cluster__ServiceId";
    public const string SiloPort = "Grid__Cluster__SiloPort";
    public const string GatewayPort = "Grid__Cluster__GatewayPort";
    public const string AdvertisedAddress = "Grid__Cluster__AdvertisedAddress";
    public const string ProbeTimeout = "Grid__Cluster__ProbeTimeout";
    public const string NumMissedProbesLimit = "Grid__Cluster__NumMissedProbesLimit";
    public const string DemoNodes = "Grid__Demo__Nodes";
    public const string OtlpEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string OtelServiceName = "OTEL_SERVICE_NAME";

    /// <summary>What every silo of a PostgreSQL cluster needs set, however it is deployed.</summary>
    public static TheoryData<string> ClusterVariables =>
        [Urls, Storage, ConnectionString, ClusterId, ServiceId, SiloPort, GatewayPort, AdvertisedAddress, DemoNodes];

    public static readonly string DefaultClusterId = new GridClusterOptions().ClusterId;
    public static readonly string DefaultServiceId = new GridClusterOptions().ServiceId;
    public static readonly int DefaultSiloPort = new GridClusterOptions().SiloPort;
    public static readonly int DefaultGatewayPort = new GridClusterOptions().GatewayPort;

    /// <summary>How long the host's graceful shutdown may take (SIGTERM to exit), in whole seconds.</summary>
    public static readonly int GracefulShutdownSeconds = (int)Math.Ceiling(GridHostExtensions.GracefulShutdown.TotalSeconds);

    /// <summary>The entry assembly of the silo image.</summary>
    public const string HostAssembly = "Grid.Host.dll";

    public const string PodName = KubernetesHostingOptions.PodNameEnvironmentVariable;
    public const string PodNamespace = KubernetesHostingOptions.PodNamespaceEnvironmentVariable;
    public const string PodIp = KubernetesHostingOptions.PodIPEnvironmentVariable;
    public const string ServiceIdLabel = KubernetesHostingOptions.ServiceIdLabel;
    public const string ClusterIdLabel = KubernetesHostingOptions.ClusterIdLabel;

    /// <summary>When set, Orleans Kubernetes hosting overrides the cluster options with these variables.</summary>
    public const string OrleansServiceIdOverride = KubernetesHostingOptions.ServiceIdEnvironmentVariable;
    public const string OrleansClusterIdOverride = KubernetesHostingOptions.ClusterIdEnvironmentVariable;

    /// <summary>
    /// Verbs on pods Orleans Kubernetes hosting uses: read its own pod, patch the cluster labels onto it, list and
    /// watch the cluster's pods, delete pods of silos declared dead.
    /// </summary>
    public static readonly string[] PodVerbs = ["get", "list", "watch", "patch", "delete"];

    /// <summary>Downward API field each Orleans Kubernetes hosting variable must come from.</summary>
    public static readonly IReadOnlyDictionary<string, string> DownwardApi = new Dictionary<string, string>
    {
        [PodName] = "metadata.name",
        [PodNamespace] = "metadata.namespace",
        [PodIp] = "status.podIP",
    };
}
