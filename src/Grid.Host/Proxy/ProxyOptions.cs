namespace Grid.Host.Proxy;

/// <summary>Settings of the grid-proxy-compatible reads, bound from <c>Grid:Proxy</c>.</summary>
public sealed class ProxyOptions
{
    public const string Section = "Grid:Proxy";

    /// <summary>How often the farm directory re-reads the farm grains. Default: 500 ms.</summary>
    public TimeSpan FarmRefreshInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How often the read model polls the ledger for new entries (memory mode: the follower; durable mode: the projector). Default: 200 ms.</summary>
    public TimeSpan LedgerPollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The version <c>/version</c> answers. Default: the host assembly's informational version.</summary>
    public string? Version { get; set; }
}
