using System.Collections.Immutable;
using Microsoft.Extensions.Options;

namespace Grid.Billing;

/// <summary>
/// This silo's copy of every farm's price list, so the scheduler prices candidates from memory. Refreshed from
/// <see cref="Grains.IPriceListGrain"/> by <see cref="BillingReplicator"/> and at once by the silo that changes a list.
/// </summary>
public sealed class PriceBook(IOptions<BillingOptions> options)
{
    private volatile PriceListSet _set = new(0, []);
    private volatile ImmutableDictionary<long, PriceList> _byFarm = ImmutableDictionary<long, PriceList>.Empty;

    public long Version => _set.Version;

    public PriceList Default => options.Value.DefaultPrices;

    public PriceListSet Set => _set;

    /// <summary>The list a farm charges: its own when it published one, else the default.</summary>
    public PriceList For(long farmId) => _byFarm.TryGetValue(farmId, out var prices) ? prices : Default;

    /// <summary>Minor units per GB a gateway node of <paramref name="farmId"/> proxies: the farm's own, else the grid's.</summary>
    public long NetworkPriceOf(long farmId) => For(farmId).Nu ?? Default.Nu ?? 0;

    /// <summary>Minor units per hour for <paramref name="resources"/> on <paramref name="node"/>.</summary>
    public long PriceOf(NodeSummary node, Capacity resources) =>
        Pricing.PricePerHour(resources, For(node.FarmId), node.Certification == NodeCertification.Certified);

    /// <summary>Minor units per hour <paramref name="request"/> costs on <paramref name="node"/>: spot capacity pays <see cref="BillingOptions.SpotPayPpm"/> of it.</summary>
    public long PriceOf(NodeSummary node, ReservationRequest request) => request.Spot
        ? Pricing.Share(PriceOf(node, request.Resources), options.Value.SpotPayPpm)
        : PriceOf(node, request.Resources);

    /// <summary>Minor units per hour for the GPUs of <paramref name="resources"/> (<c>Grid:Billing:GpuPrice</c> each, grid-wide).</summary>
    public long GpuPriceOf(Capacity resources) => resources.Gpu <= 0 ? 0 : checked(options.Value.GpuPrice * resources.Gpu);

    /// <summary>Minor units per hour the GPUs of <paramref name="request"/> cost: spot capacity pays <see cref="BillingOptions.SpotPayPpm"/> of it, as for its other units.</summary>
    public long GpuPriceOf(ReservationRequest request) => request.Spot
        ? Pricing.Share(GpuPriceOf(request.Resources), options.Value.SpotPayPpm)
        : GpuPriceOf(request.Resources);

    /// <summary>Takes a newer set; an older one (a slow refresh racing a change) is ignored.</summary>
    public void Apply(PriceListSet set)
    {
        lock (this)
        {
            if (set.Version <= _set.Version && _set.Version != 0)
            {
                return;
            }

            _byFarm = set.Farms.ToImmutableDictionary(f => f.FarmId, f => f.Prices);
            _set = set;
        }
    }
}
