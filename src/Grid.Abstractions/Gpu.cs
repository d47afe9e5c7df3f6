using System.Text.Json.Serialization;

namespace Grid;

/// <summary>
/// One GPU (or other device handed out whole) of a node: its id on the node (the PCI address, like
/// <c>0000:01:00.0</c>), vendor and device names and memory in MiB (0 when unknown). In a node's summary and view,
/// <see cref="ReservationId"/> names the reservation holding it (null while free).
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.gpu")]
public sealed record GpuDevice(
    [property: Id(0)] string Id,
    [property: Id(1)] string Vendor,
    [property: Id(2)] string Device,
    [property: Id(3)] long Memory)
{
    /// <summary>The reservation the GPU is allocated to; null while it is free (and in registrations and reports).</summary>
    [Id(4), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? ReservationId { get; init; }

    /// <summary>
    /// True when <paramref name="model"/> names this GPU: every word of it is a case-insensitive part of the vendor or
    /// device name (<c>A100</c>, <c>NVIDIA A100</c>, <c>RTX 4090</c> all name "NVIDIA Corporation", "GA100 [A100 PCIe 40GB]").
    /// </summary>
    public bool Matches(string model)
    {
        var words = model.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return words.Length > 0 && words.All(word =>
            Device.Contains(word, StringComparison.OrdinalIgnoreCase) || Vendor.Contains(word, StringComparison.OrdinalIgnoreCase));
    }
}

/// <summary>
/// <c>constraints.near</c>: place on the node nearest to (<see cref="Lat"/>, <see cref="Lon"/>) that fits, no farther
/// than <see cref="MaxKm"/> kilometres along the great circle.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.near")]
public sealed record NearConstraint(
    [property: Id(0)] double Lat,
    [property: Id(1)] double Lon,
    [property: Id(2)] double MaxKm);
