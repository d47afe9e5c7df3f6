using Grid.Scheduling;

namespace Grid.Proxy;

/// <summary>
/// The <c>/nodes</c> filters a query asked for, as plain fields tested in one method (no closure per filter per node):
/// resource minimums, status and certification as bit masks over their enums, countries and cities as ids of the
/// snapshot, farm-level tests (free addresses, farm name) once per farm. Unset fields test nothing.
/// </summary>
public sealed class NodeFilter
{
    public bool MatchesNothing { get; set; }

    /// <summary>Bit <c>1 &lt;&lt; (int)status</c> set for each <see cref="NodeStatus"/> that passes.</summary>
    public int StatusMask { get; set; } = -1;

    public long MinFreeMru { get; set; } = long.MinValue;

    public long MinFreeHru { get; set; } = long.MinValue;

    public long MinFreeSru { get; set; } = long.MinValue;

    public long MinTotalMru { get; set; } = long.MinValue;

    public long MinTotalHru { get; set; } = long.MinValue;

    public long MinTotalSru { get; set; } = long.MinValue;

    public long MinTotalCru { get; set; } = long.MinValue;

    public long? MinFreeIps { get; set; }

    public string? Country { get; set; }

    public string? CountryContains { get; set; }

    public string? City { get; set; }

    public string? CityContains { get; set; }

    public string? FarmName { get; set; }

    public string? FarmNameContains { get; set; }

    /// <summary>Bit <c>1 &lt;&lt; (int)certification</c> set for each <see cref="NodeCertification"/> that passes.</summary>
    public int CertificationMask { get; set; } = -1;

    public long? NodeId { get; set; }

    public long? TwinId { get; set; }

    public long? OwnedBy { get; set; }

    public HashSet<long>? FarmIds { get; set; }

    public HashSet<long>? NodeIds { get; set; }

    public HashSet<long>? Excluded { get; set; }

    /// <summary><c>rentable</c>: true keeps the rentable nodes, false the others.</summary>
    public bool? Rentable { get; set; }

    /// <summary><c>rented</c>: true keeps the rented nodes, false the others.</summary>
    public bool? Rented { get; set; }

    /// <summary><c>rented_by</c>: the nodes this twin rents.</summary>
    public long? RentedBy { get; set; }

    /// <summary><c>rentable_or_rented_by</c>: rentable nodes and the ones this twin rents.</summary>
    public long? RentableOrRentedBy { get; set; }

    /// <summary><c>available_for</c>: the nodes this twin may deploy on (not rented, or rented by it; no farm is dedicated here).</summary>
    public long? AvailableFor { get; set; }

    /// <summary><c>has_gpu</c>: nodes with (true) or without (false) GPUs.</summary>
    public bool? HasGpu { get; set; }

    /// <summary><c>gpu_available</c>: nodes with a GPU no reservation holds (true), or with GPUs all held (false).</summary>
    public bool? GpuAvailable { get; set; }

    /// <summary><c>gpu_vendor_name</c>: nodes with a GPU whose vendor name contains it (any case), as ThreeFold's proxy.</summary>
    public string? GpuVendorName { get; set; }

    /// <summary><c>gpu_device_name</c>: nodes with a GPU whose device name contains it (any case).</summary>
    public string? GpuDeviceName { get; set; }

    /// <summary><c>num_gpu</c>: nodes with at least this many GPUs.</summary>
    public long? MinNumGpu { get; set; }

    private bool ByGpu => HasGpu is not null || GpuAvailable is not null || GpuVendorName is not null || GpuDeviceName is not null || MinNumGpu is not null;

    /// <summary>True when <paramref name="node"/>'s GPUs pass the GPU filters (none set: true).</summary>
    public bool GpusPass(NodeSummary node)
    {
        if (!ByGpu)
        {
            return true;
        }

        var gpus = node.Gpus;
        return (HasGpu is not { } has || has == gpus.Length > 0)
            && (GpuAvailable is not { } available || (gpus.Length > 0 && available == gpus.Any(g => g.ReservationId is null)))
            && (GpuVendorName is not { } vendor || gpus.Any(g => g.Vendor.Contains(vendor, StringComparison.OrdinalIgnoreCase)))
            && (GpuDeviceName is not { } device || gpus.Any(g => g.Device.Contains(device, StringComparison.OrdinalIgnoreCase)))
            && (MinNumGpu is not { } min || gpus.Length >= min);
    }

    public static int StatusMaskOf(IEnumerable<string> statuses) =>
        Enum.GetValues<NodeStatus>().Where(s => statuses.Contains(NodeQuery.Status(s))).Aggregate(0, (mask, s) => mask | (1 << (int)s));

    /// <summary>This filter bound to one snapshot and this moment's farms: what a scan calls per entry.</summary>
    public Bound Bind(NodeSnapshot snapshot, FarmDirectory farms) => new(this, snapshot, farms);

    public sealed class Bound
    {
        private readonly NodeFilter _filter;
        private readonly FarmDirectory _farms;
        private readonly int _country = -1;
        private readonly bool[]? _countries;
        private readonly int _city = -1;
        private readonly bool[]? _cities;
        private readonly bool _byFarm;
        private readonly Dictionary<long, bool> _farmPasses = [];

        internal Bound(NodeFilter filter, NodeSnapshot snapshot, FarmDirectory farms)
        {
            _filter = filter;
            _farms = farms;
            var nothing = filter.MatchesNothing;
            if (filter.Country is { } country && (_country = snapshot.Countries.IdOf(country)) < 0)
            {
                nothing = true;
            }

            if (filter.City is { } city && (_city = snapshot.Cities.IdOf(city)) < 0)
            {
                nothing = true;
            }

            _countries = filter.CountryContains is { } countryPart ? snapshot.Countries.Containing(countryPart) : null;
            _cities = filter.CityContains is { } cityPart ? snapshot.Cities.Containing(cityPart) : null;
            _byFarm = filter.MinFreeIps is not null || filter.FarmName is not null || filter.FarmNameContains is not null;
            // An exact country (the common explorer query) scans only that country's nodes.
            Candidates = nothing ? [] : _country >= 0 ? snapshot.ByCountry[_country] : null;
        }

        /// <summary>The entry indexes worth testing; null for all of them.</summary>
        public int[]? Candidates { get; }

        public bool Matches(in NodeEntry e)
        {
            var f = _filter;
            if (((f.StatusMask >> (int)e.Status) & 1) == 0 || ((f.CertificationMask >> (int)e.Certification) & 1) == 0
                || e.FreeMru < f.MinFreeMru || e.FreeHru < f.MinFreeHru || e.FreeSru < f.MinFreeSru
                || e.TotalMru < f.MinTotalMru || e.TotalHru < f.MinTotalHru || e.TotalSru < f.MinTotalSru || e.TotalCru < f.MinTotalCru
                || (_country >= 0 && e.Country != _country) || (_countries is not null && !_countries[e.Country])
                || (_city >= 0 && e.City != _city) || (_cities is not null && !_cities[e.City])
                || (f.NodeId is { } nodeId && e.NodeId != nodeId) || (f.TwinId is { } twinId && e.TwinId != twinId)
                || (f.FarmIds is { } farmIds && !farmIds.Contains(e.FarmId))
                || (f.NodeIds is { } nodeIds && !nodeIds.Contains(e.NodeId))
                || (f.Excluded is { } excluded && excluded.Contains(e.NodeId)))
            {
                return false;
            }

            if ((f.Rentable is { } rentable && e.Rentable != rentable) || (f.Rented is { } rented && (e.RentedBy != 0) != rented)
                || (f.RentedBy is { } renter && e.RentedBy != renter)
                || (f.RentableOrRentedBy is { } either && !e.Rentable && e.RentedBy != either)
                || (f.AvailableFor is { } user && e.RentedBy != 0 && e.RentedBy != user))
            {
                return false;
            }

            if (f.OwnedBy is { } owner && (_farms.TryGet(e.FarmId, out var farm) ? farm.TwinId : e.TwinId) != owner)
            {
                return false;
            }

            if (!f.GpusPass(e.Node))
            {
                return false;
            }

            return !_byFarm || FarmPasses(e.FarmId);
        }

        private bool FarmPasses(long farmId)
        {
            if (!_farmPasses.TryGetValue(farmId, out var passes))
            {
                var f = _filter;
                var known = _farms.TryGet(farmId, out var farm);
                var name = known ? farm.Name : "";
                _farmPasses[farmId] = passes =
                    (f.MinFreeIps is not { } minFree || (known ? farm.FreeIps : 0) >= minFree)
                    && (f.FarmName is not { } wanted || name.Equals(wanted, StringComparison.OrdinalIgnoreCase))
                    && (f.FarmNameContains is not { } part || name.Contains(part, StringComparison.OrdinalIgnoreCase));
            }

            return passes;
        }
    }
}
