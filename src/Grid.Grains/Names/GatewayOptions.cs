namespace Grid.Names;

/// <summary>Gateway name settings, bound from <c>Grid:Gateways</c>.</summary>
public sealed class GatewayOptions
{
    public const string Section = "Grid:Gateways";

    /// <summary>
    /// The DNS domain names live under: a name is reached at <c>&lt;name&gt;.&lt;Domain&gt;</c>, and the operator points
    /// <c>*.&lt;Domain&gt;</c> at every gateway node. Default: <c>gw.grid.local</c>.
    /// </summary>
    public string Domain { get; set; } = "gw.grid.local";

    /// <summary>The URL a name is reached at.</summary>
    public string UrlOf(string name) => $"http://{HostOf(name)}";

    /// <summary>The <c>Host</c> gateways route a name by.</summary>
    public string HostOf(string name) => $"{name}.{Domain}";
}
