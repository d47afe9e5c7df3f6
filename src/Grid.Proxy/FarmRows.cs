namespace Grid.Proxy;

/// <summary>A farm as the ledger announced it (<c>farm.registered</c>), with which contract holds each address.</summary>
public sealed record FarmRow(long FarmId, long TwinId, string Name, string Certification, IReadOnlyList<PublicIpRow> PublicIps)
{
    public int FreeIps
    {
        get
        {
            var free = 0;
            foreach (var ip in PublicIps)
            {
                if (ip.ContractId == 0)
                {
                    free++;
                }
            }

            return free;
        }
    }
}

/// <summary>One address of a farm's pool; <see cref="ContractId"/> is the reservation holding it, 0 when free.</summary>
public sealed record PublicIpRow(long FarmId, string Ip, string Gateway, long ContractId);

/// <summary>
/// The <c>/farms</c> filters on the farm itself; <see cref="FarmIds"/> (when set) are the farms that passed the
/// node-level filters over the capacity view. <see cref="Unmatchable"/> when one can match no farm of ours.
/// </summary>
public sealed record FarmFilter(
    long? FreeIps, long? TotalIps, long? FarmId, long? TwinId, string? Name, string? NameContains, string? Certification,
    IReadOnlyCollection<long>? FarmIds, bool Unmatchable)
{
    public bool Matches(FarmRow farm) =>
        !Unmatchable
        && (FreeIps is null || farm.FreeIps >= FreeIps)
        && (TotalIps is null || farm.PublicIps.Count >= TotalIps)
        && (FarmId is null || farm.FarmId == FarmId)
        && (TwinId is null || farm.TwinId == TwinId)
        && (Name is null || farm.Name.Equals(Name, StringComparison.OrdinalIgnoreCase))
        && (NameContains is null || farm.Name.Contains(NameContains, StringComparison.OrdinalIgnoreCase))
        && (Certification is null || farm.Certification == Certification)
        && (FarmIds is null || FarmIds.Contains(farm.FarmId));
}

/// <summary>The <c>/public_ips</c> filters.</summary>
public sealed record PublicIpFilter(IReadOnlyCollection<long>? FarmIds, bool? Free, string? Ip, string? Gateway)
{
    public bool Matches(PublicIpRow ip) =>
        (FarmIds is null || FarmIds.Contains(ip.FarmId))
        && (Free is null || (ip.ContractId == 0) == Free)
        && (Ip is null || ip.Ip == Ip)
        && (Gateway is null || ip.Gateway == Gateway);
}

/// <summary>The in-memory orders of farms and addresses; the PostgreSQL store spells the same in SQL.</summary>
public static class FarmOrder
{
    public static readonly IComparer<FarmRow> ById = Comparer<FarmRow>.Create((a, b) => a.FarmId.CompareTo(b.FarmId));

    public static readonly IComparer<PublicIpRow> IpById = Comparer<PublicIpRow>.Create((a, b) => ProxyApi.Compare(a.FarmId, b.FarmId, a.Ip, b.Ip));

    public static IComparer<FarmRow> For(string sortBy)
    {
        if (sortBy == "name")
        {
            return Comparer<FarmRow>.Create((a, b) => string.Compare(a.Name, b.Name, StringComparison.OrdinalIgnoreCase) is var c && c != 0 ? c : ById.Compare(a, b));
        }

        Func<FarmRow, long> key = sortBy switch
        {
            "twin_id" => f => f.TwinId,
            "free_ips" => f => f.FreeIps,
            "total_ips" or "public_ips" => f => f.PublicIps.Count,
            "used_ips" => f => f.PublicIps.Count - f.FreeIps,
            "dedicated" => _ => 0,
            _ => f => f.FarmId,
        };
        return Comparer<FarmRow>.Create((a, b) => key(a).CompareTo(key(b)) is var c && c != 0 ? c : ById.Compare(a, b));
    }

    public static IComparer<PublicIpRow> IpsFor(string sortBy) => sortBy switch
    {
        "contract_id" => Comparer<PublicIpRow>.Create((a, b) => a.ContractId != b.ContractId ? a.ContractId.CompareTo(b.ContractId) : IpById.Compare(a, b)),
        "farm_id" => IpById,
        _ => Comparer<PublicIpRow>.Create((a, b) => string.CompareOrdinal(a.Ip, b.Ip) is var c && c != 0 ? c : IpById.Compare(a, b)),
    };
}
