namespace Grid.Proxy;

/// <summary>Settings of the grid-proxy-compatible reads, bound from <c>Grid:Proxy</c>.</summary>
public sealed class ProxyOptions
{
    public const string Section = "Grid:Proxy";

    /// <summary>How often each silo's farm directory (the farms joined to nodes and contracts) re-reads the read model's farms. Default: 250 ms.</summary>
    public TimeSpan FarmRefreshInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How often the read model polls the ledger for new entries (memory mode: the follower; durable mode: the projector). Default: 200 ms.</summary>
    public TimeSpan LedgerPollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How often, while <c>/nodes</c> is being read and the capacity view changed, its index (a compact copy of the view)
    /// is rebuilt off the request path; a read finding it older than three intervals rebuilds it first. Default: 250 ms.
    /// </summary>
    public TimeSpan NodeIndexInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The version <c>/version</c> answers. Default: this build's informational version.</summary>
    public string? Version { get; set; }
}
