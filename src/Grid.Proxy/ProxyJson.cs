using System.Text.Json.Serialization;

namespace Grid.Proxy;

// The grid proxy's JSON shapes (tfgrid-sdk-go grid-proxy/pkg/types), field names exactly as it spells them.
// Fields our grid has no equivalent for carry their neutral value; docs/grid-proxy.md lists each one.

public sealed record ProxyCapacity(
    [property: JsonPropertyName("cru")] long Cru,
    [property: JsonPropertyName("sru")] long Sru,
    [property: JsonPropertyName("hru")] long Hru,
    [property: JsonPropertyName("mru")] long Mru)
{
    public static ProxyCapacity From(Capacity c) => new(c.Cru, c.Sru, c.Hru, c.Mru);
}

public sealed record ProxyLocation(
    [property: JsonPropertyName("country")] string Country,
    [property: JsonPropertyName("city")] string City,
    [property: JsonPropertyName("longitude")] double? Longitude,
    [property: JsonPropertyName("latitude")] double? Latitude);

public sealed record ProxyPublicConfig(
    [property: JsonPropertyName("domain")] string Domain,
    [property: JsonPropertyName("gw4")] string Gw4,
    [property: JsonPropertyName("gw6")] string Gw6,
    [property: JsonPropertyName("ipv4")] string Ipv4,
    [property: JsonPropertyName("ipv6")] string Ipv6)
{
    public static readonly ProxyPublicConfig None = new("", "", "", "", "");
}

public sealed record ProxyPower(
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("target")] string Target)
{
    public static readonly ProxyPower None = new("", "");
}

public sealed record ProxyBios(
    [property: JsonPropertyName("vendor")] string Vendor,
    [property: JsonPropertyName("version")] string Version);

public sealed record ProxyBaseboard(
    [property: JsonPropertyName("manufacturer")] string Manufacturer,
    [property: JsonPropertyName("product_name")] string ProductName);

public sealed record ProxyDmi(
    [property: JsonPropertyName("bios")] ProxyBios Bios,
    [property: JsonPropertyName("baseboard")] ProxyBaseboard Baseboard,
    [property: JsonPropertyName("processor")] string[] Processor,
    [property: JsonPropertyName("memory")] string[] Memory)
{
    public static readonly ProxyDmi None = new(new("", ""), new("", ""), [], []);
}

public sealed record ProxySpeed(
    [property: JsonPropertyName("upload")] double Upload,
    [property: JsonPropertyName("download")] double Download)
{
    public static readonly ProxySpeed None = new(0, 0);
}

/// <summary><c>total_resources</c> and <c>used_resources</c>, nested under <c>capacity</c> in <c>/nodes/{id}</c>.</summary>
public sealed record ProxyNodeCapacity(
    [property: JsonPropertyName("total_resources")] ProxyCapacity Total,
    [property: JsonPropertyName("used_resources")] ProxyCapacity Used);

/// <summary>A node as <c>/nodes</c> lists it (<c>types.Node</c>) and, with <see cref="Capacity"/> set instead of
/// the top-level resources, as <c>/nodes/{id}</c> answers it (<c>types.NodeWithNestedCapacity</c>).</summary>
public sealed record ProxyNode(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("nodeId")] long NodeId,
    [property: JsonPropertyName("farmId")] long FarmId,
    [property: JsonPropertyName("farmName")] string FarmName,
    [property: JsonPropertyName("twinId")] long TwinId,
    [property: JsonPropertyName("country")] string Country,
    [property: JsonPropertyName("gridVersion")] int GridVersion,
    [property: JsonPropertyName("city")] string City,
    [property: JsonPropertyName("uptime")] long Uptime,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("farmingPolicyId")] int FarmingPolicyId,
    [property: JsonPropertyName("updatedAt")] long UpdatedAt,
    [property: JsonPropertyName("total_resources"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ProxyCapacity? TotalResources,
    [property: JsonPropertyName("used_resources"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ProxyCapacity? UsedResources,
    [property: JsonPropertyName("capacity"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ProxyNodeCapacity? Capacity,
    [property: JsonPropertyName("location")] ProxyLocation Location,
    [property: JsonPropertyName("publicConfig")] ProxyPublicConfig PublicConfig,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("certificationType")] string CertificationType,
    [property: JsonPropertyName("dedicated")] bool Dedicated,
    [property: JsonPropertyName("inDedicatedFarm")] bool InDedicatedFarm,
    [property: JsonPropertyName("rentContractId")] long RentContractId,
    [property: JsonPropertyName("rented")] bool Rented,
    [property: JsonPropertyName("rentable")] bool Rentable,
    [property: JsonPropertyName("rentedByTwinId")] long RentedByTwinId,
    [property: JsonPropertyName("serialNumber")] string SerialNumber,
    [property: JsonPropertyName("power")] ProxyPower Power,
    [property: JsonPropertyName("num_gpu")] int NumGpu,
    [property: JsonPropertyName("extraFee")] long ExtraFee,
    [property: JsonPropertyName("healthy")] bool Healthy,
    [property: JsonPropertyName("dmi")] ProxyDmi Dmi,
    [property: JsonPropertyName("speed")] ProxySpeed Speed,
    [property: JsonPropertyName("gpus")] ProxyGpu[] Gpus,
    [property: JsonPropertyName("price_usd")] double PriceUsd,
    [property: JsonPropertyName("farm_free_ips")] int FarmFreeIps,
    [property: JsonPropertyName("features")] string[] Features)
{
    /// <summary>Ours, next to ThreeFold's fields: the node is quarantined (its status stays what it is).</summary>
    [JsonPropertyName("quarantined")] public bool Quarantined { get; init; }
}

/// <summary>A node's GPU as ThreeFold's proxy lists it (<c>types.NodeGPU</c>): <c>contract</c> is the reservation holding it, 0 when free.</summary>
public sealed record ProxyGpu(
    [property: JsonPropertyName("node_twin_id")] long NodeTwinId,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("vendor")] string Vendor,
    [property: JsonPropertyName("device")] string Device,
    [property: JsonPropertyName("contract")] long Contract);

public sealed record ProxyNodeStatus([property: JsonPropertyName("status")] string Status);

public sealed record ProxyPublicIp(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("ip")] string Ip,
    [property: JsonPropertyName("gateway")] string Gateway,
    [property: JsonPropertyName("contract_id")] long ContractId,
    [property: JsonPropertyName("farm_id")] long FarmId);

public sealed record ProxyFarm(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("farmId")] long FarmId,
    [property: JsonPropertyName("twinId")] long TwinId,
    [property: JsonPropertyName("pricingPolicyId")] int PricingPolicyId,
    [property: JsonPropertyName("certificationType")] string CertificationType,
    [property: JsonPropertyName("stellarAddress")] string StellarAddress,
    [property: JsonPropertyName("dedicated")] bool Dedicated,
    [property: JsonPropertyName("publicIps")] IReadOnlyList<ProxyPublicIp> PublicIps);

public sealed record ProxyTwin(
    [property: JsonPropertyName("twinId")] long TwinId,
    [property: JsonPropertyName("accountId")] string AccountId,
    [property: JsonPropertyName("relay")] string Relay,
    [property: JsonPropertyName("publicKey")] string PublicKey);

/// <summary>A node contract's details; a rent contract's leave the deployment fields out (null), as the grid proxy's RentContractDetails.</summary>
public sealed record ProxyContractDetails(
    [property: JsonPropertyName("nodeId")] long NodeId,
    [property: JsonPropertyName("deployment_data"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? DeploymentData,
    [property: JsonPropertyName("deployment_hash"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? DeploymentHash,
    [property: JsonPropertyName("number_of_public_ips"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? NumberOfPublicIps,
    [property: JsonPropertyName("farm_name")] string FarmName,
    [property: JsonPropertyName("farm_id")] long FarmId);

public sealed record ProxyContract(
    [property: JsonPropertyName("contract_id")] long ContractId,
    [property: JsonPropertyName("twin_id")] long TwinId,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("created_at")] long CreatedAt,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("details")] ProxyContractDetails Details);

public sealed record ProxyBill(
    [property: JsonPropertyName("amountBilled")] long AmountBilled,
    [property: JsonPropertyName("discountReceived")] string DiscountReceived,
    [property: JsonPropertyName("timestamp")] long Timestamp);

public sealed record ProxyConsumption(
    [property: JsonPropertyName("last_hour_consumption")] double LastHourConsumption,
    [property: JsonPropertyName("overall_consumption")] double OverallConsumption);

public sealed record ProxyStats(
    [property: JsonPropertyName("nodes")] long Nodes,
    [property: JsonPropertyName("farms")] long Farms,
    [property: JsonPropertyName("countries")] long Countries,
    [property: JsonPropertyName("totalCru")] long TotalCru,
    [property: JsonPropertyName("totalSru")] long TotalSru,
    [property: JsonPropertyName("totalMru")] long TotalMru,
    [property: JsonPropertyName("totalHru")] long TotalHru,
    [property: JsonPropertyName("publicIps")] long PublicIps,
    [property: JsonPropertyName("accessNodes")] long AccessNodes,
    [property: JsonPropertyName("gateways")] long Gateways,
    [property: JsonPropertyName("twins")] long Twins,
    [property: JsonPropertyName("contracts")] long Contracts,
    [property: JsonPropertyName("nodesDistribution")] IReadOnlyDictionary<string, long> NodesDistribution,
    [property: JsonPropertyName("gpus")] long Gpus,
    [property: JsonPropertyName("dedicatedNodes")] long DedicatedNodes,
    [property: JsonPropertyName("workloads_number")] long WorkloadsNumber);

public sealed record ProxyVersion([property: JsonPropertyName("version")] string Version);

public sealed record ProxyPing([property: JsonPropertyName("ping")] string Ping);
