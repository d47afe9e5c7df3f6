namespace Grid;

/// <summary>
/// An amount of grid capacity: <c>cru</c> logical cores, <c>mru</c> RAM bytes, <c>sru</c> SSD bytes,
/// <c>hru</c> HDD bytes and <c>ipv4</c> public addresses.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.capacity")]
public sealed record Capacity(
    [property: Id(0)] long Cru,
    [property: Id(1)] long Mru,
    [property: Id(2)] long Sru,
    [property: Id(3)] long Hru,
    [property: Id(4)] int Ipv4 = 0,
    [property: Id(5), System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)] int Gpu = 0)
{
    public static readonly Capacity Zero = new(0, 0, 0, 0, 0);

    public static Capacity operator +(Capacity a, Capacity b) =>
        new(a.Cru + b.Cru, a.Mru + b.Mru, a.Sru + b.Sru, a.Hru + b.Hru, a.Ipv4 + b.Ipv4, a.Gpu + b.Gpu);

    public static Capacity operator -(Capacity a, Capacity b) =>
        new(a.Cru - b.Cru, a.Mru - b.Mru, a.Sru - b.Sru, a.Hru - b.Hru, a.Ipv4 - b.Ipv4, a.Gpu - b.Gpu);

    /// <summary>True when every unit of <paramref name="other"/> is at most this one's.</summary>
    public bool Covers(Capacity other) =>
        other.Cru <= Cru && other.Mru <= Mru && other.Sru <= Sru && other.Hru <= Hru && other.Ipv4 <= Ipv4 && other.Gpu <= Gpu;

    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsNegative => Cru < 0 || Mru < 0 || Sru < 0 || Hru < 0 || Ipv4 < 0 || Gpu < 0;
}

/// <summary>The unit of capacity a placement filter rejected a node for.</summary>
public enum CapacityUnit
{
    Cru,
    Mru,
    Sru,
    Hru,
    Ipv4,
    Gpu,
}

/// <summary>Pure capacity arithmetic shared by node grains, the scheduler and the index.</summary>
public static class CapacityMath
{
    /// <summary>
    /// Free capacity of a node: RAM and disk are never overcommitted; CPU may be, up to
    /// <paramref name="cpuOvercommit"/> times the node's logical cores.
    /// </summary>
    public static Capacity Free(Capacity total, Capacity used, double cpuOvercommit) =>
        new(
            (long)Math.Floor(total.Cru * cpuOvercommit) - used.Cru,
            total.Mru - used.Mru,
            total.Sru - used.Sru,
            total.Hru - used.Hru,
            0,
            total.Gpu - used.Gpu);

    /// <summary>The first unit (in cru, mru, sru, hru, gpu order) that <paramref name="free"/> cannot give, if any.</summary>
    public static CapacityUnit? FirstShortfall(Capacity free, Capacity wanted)
    {
        if (wanted.Cru > free.Cru)
        {
            return CapacityUnit.Cru;
        }

        if (wanted.Mru > free.Mru)
        {
            return CapacityUnit.Mru;
        }

        if (wanted.Sru > free.Sru)
        {
            return CapacityUnit.Sru;
        }

        if (wanted.Hru > free.Hru)
        {
            return CapacityUnit.Hru;
        }

        if (wanted.Gpu > free.Gpu)
        {
            return CapacityUnit.Gpu;
        }

        return null;
    }
}
