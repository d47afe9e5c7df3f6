namespace Grid.Proxy;

/// <summary>Our records in the grid proxy's shapes.</summary>
public static class ProxyViews
{
    /// <summary>The grid proxy reports TFGrid v3 nodes; ours speak the same API generation.</summary>
    public const int GridVersion = 3;

    public static ProxyNode Node(NodeRow row, DateTimeOffset now, bool nested)
    {
        var node = row.Node;
        var status = NodeQuery.Status(node.Status);
        var total = ProxyCapacity.From(node.Total);
        // As ZOS's cache reservation: the SSD held for the node's image cache is used, never free (total - used = free_sru).
        var used = ProxyCapacity.From(node.Used with { Sru = node.Used.Sru + node.ImageCacheSru });
        var uptime = status != "down" && node.BootedAt is { } booted ? Math.Max(0, (long)(now - booted).TotalSeconds) : 0;
        return new ProxyNode(
            Id: $"node-{node.NodeId}",
            NodeId: node.NodeId,
            FarmId: node.FarmId,
            FarmName: row.Farm?.Name ?? "",
            TwinId: node.TwinId,
            Country: node.Location.Country,
            GridVersion: GridVersion,
            City: node.Location.City,
            Uptime: uptime,
            Created: node.CreatedAt.ToUnixTimeSeconds(),
            FarmingPolicyId: 0,
            UpdatedAt: (node.StatusChangedAt ?? node.CreatedAt).ToUnixTimeSeconds(),
            TotalResources: nested ? null : total,
            UsedResources: nested ? null : used,
            Capacity: nested ? new ProxyNodeCapacity(total, used) : null,
            Location: new ProxyLocation(node.Location.Country, node.Location.City, null, null),
            PublicConfig: ProxyPublicConfig.None,
            Status: status,
            CertificationType: node.Certification.ToString(),
            Dedicated: false,
            InDedicatedFarm: false,
            RentContractId: node.RentContractId ?? 0,
            Rented: node.RentedBy is not null,
            Rentable: RentState.Rentable(node),
            RentedByTwinId: node.RentedBy ?? 0,
            SerialNumber: "",
            Power: ProxyPower.None,
            NumGpu: node.Gpus.Length,
            ExtraFee: 0,
            Healthy: status == "up",
            Dmi: ProxyDmi.None,
            Speed: ProxySpeed.None,
            Gpus: [.. node.Gpus.Select(g => new ProxyGpu(node.TwinId, g.Id, g.Vendor, g.Device, g.ReservationId ?? 0))],
            PriceUsd: 0,
            FarmFreeIps: row.FarmFreeIps,
            Features: [])
        {
            Quarantined = node.Quarantined,
        };
    }

    public static ProxyPublicIp PublicIp(PublicIpRow ip) => new($"{ip.FarmId}-{ip.Ip}", ip.Ip, ip.Gateway, ip.ContractId, ip.FarmId);

    public static ProxyFarm Farm(FarmRow farm) =>
        new(farm.Name, farm.FarmId, farm.TwinId, PricingPolicyId: 0, farm.Certification, StellarAddress: "", Dedicated: false,
            [.. farm.PublicIps.Select(PublicIp)]);

    /// <summary>A contract row as the grid proxy answers it: a rent contract's details have no deployment fields (tfgrid-sdk-go RentContractDetails).</summary>
    public static ProxyContract Contract(ContractRow contract, FarmDirectory farms) =>
        new(contract.ContractId, contract.TwinId, contract.State, contract.CreatedAt, contract.Type, contract.Type == ProxyEvents.RentContract
            ? new ProxyContractDetails(contract.NodeId, null, null, null, farms.NameOf(contract.FarmId), contract.FarmId)
            : new ProxyContractDetails(contract.NodeId, "", "", contract.PublicIps, farms.NameOf(contract.FarmId), contract.FarmId));

    public static ProxyTwin Twin(TwinRow twin) => new(twin.TwinId, AccountId: "", Relay: "", PublicKey: "");
}
