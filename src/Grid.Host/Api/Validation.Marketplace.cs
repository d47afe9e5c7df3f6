using System.Collections.Immutable;
using Grid.Client;
using Grid.Scheduling;

namespace Grid.Host.Api;

/// <summary>The marketplace's request parts: a node's GPUs and coordinates, a reservation's GPU models and <c>near</c>.</summary>
public sealed partial class Validation
{
    public const int MaxGpu = 16;
    public const int MaxNodeGpus = 64;
    public const int MaxGpuModels = 8;
    public const long MaxGpuMemory = 1L << 30;

    /// <summary>A node's GPUs (<c>gpus</c>): distinct ids, vendor and device names, memory in MiB.</summary>
    public ImmutableArray<GpuDevice> Gpus(string field, ImmutableArray<GpuRequest>? value)
    {
        var gpus = value ?? [];
        if (gpus.Length > MaxNodeGpus)
        {
            Add(field, $"at most {MaxNodeGpus} GPUs.");
            return [];
        }

        var devices = ImmutableArray.CreateBuilder<GpuDevice>(gpus.Length);
        for (var i = 0; i < gpus.Length; i++)
        {
            var gpu = gpus[i];
            var id = gpu?.Id is { Length: > 0 and <= 64 } given && given.All(c => char.IsAsciiLetterOrDigit(c) || c is ':' or '.' or '-' or '_')
                ? given
                : null;
            if (id is null)
            {
                Add($"{field}[{i}].id", "must be 1-64 letters, digits or : . - _ (a PCI address like 0000:01:00.0).");
            }
            else if (devices.Any(d => d.Id == id))
            {
                Add($"{field}[{i}].id", $"'{id}' is listed twice.");
            }

            var vendor = DeviceName($"{field}[{i}].vendor", gpu?.Vendor);
            var device = DeviceName($"{field}[{i}].device", gpu?.Device);
            var memory = Amount($"{field}[{i}].memory", gpu?.Memory, 0, MaxGpuMemory, required: false);
            devices.Add(new GpuDevice(id ?? "", vendor, device, memory));
        }

        return devices.ToImmutable();
    }

    /// <summary>A vendor or device name as the PCI ID database spells it ("Advanced Micro Devices, Inc. [AMD/ATI]"): 1-128 printable characters.</summary>
    public string DeviceName(string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > 128 || value.Any(char.IsControl))
        {
            Add(field, "is required: 1-128 printable characters.");
            return "";
        }

        return value.Trim();
    }

    /// <summary>Latitude and longitude given together, on the globe; null when neither is given. <paramref name="prefix"/>: <c>location.</c> or none.</summary>
    public (double Latitude, double Longitude)? Coordinates(string prefix, double? latitude, double? longitude)
    {
        if (latitude is null && longitude is null)
        {
            return null;
        }

        if (latitude is not { } lat || !double.IsFinite(lat) || lat is < -90 or > 90)
        {
            Add($"{prefix}latitude", "must be given with the longitude, between -90 and 90 degrees.");
        }

        if (longitude is not { } lon || !double.IsFinite(lon) || lon is < -180 or > 180)
        {
            Add($"{prefix}longitude", "must be given with the latitude, between -180 and 180 degrees.");
        }

        return latitude is { } a && longitude is { } b && GreatCircle.IsValid(a, b) ? (a, b) : null;
    }

    /// <summary><c>constraints.near</c>: a point on the globe and a positive <c>maxKm</c> (at most half the earth around).</summary>
    public NearConstraint? Near(string field, NearRequest? value)
    {
        if (value is null)
        {
            return null;
        }

        if (value.Lat is not { } lat || !double.IsFinite(lat) || lat is < -90 or > 90)
        {
            Add($"{field}.lat", "is required, between -90 and 90 degrees.");
        }

        if (value.Lon is not { } lon || !double.IsFinite(lon) || lon is < -180 or > 180)
        {
            Add($"{field}.lon", "is required, between -180 and 180 degrees.");
        }

        if (value.MaxKm is not { } maxKm || !double.IsFinite(maxKm) || maxKm <= 0 || maxKm > GreatCircle.MaxKm + 1)
        {
            Add($"{field}.maxKm", "is required, above 0 and at most 20016 km (half the earth around).");
        }

        return value is { Lat: { } a, Lon: { } b, MaxKm: { } km } && GreatCircle.IsValid(a, b) && double.IsFinite(km) && km > 0
            ? new NearConstraint(a, b, km)
            : null;
    }

    /// <summary><c>constraints.gpuModels</c>: a few model names (<c>A100</c>, <c>RTX 4090</c>).</summary>
    public ImmutableArray<string> GpuModels(string field, ImmutableArray<string>? value)
    {
        var models = value ?? [];
        if (models.Length > MaxGpuModels)
        {
            Add(field, $"at most {MaxGpuModels} models.");
            return [];
        }

        for (var i = 0; i < models.Length; i++)
        {
            DeviceName($"{field}[{i}]", models[i]);
        }

        return [.. models.Where(m => !string.IsNullOrWhiteSpace(m)).Select(m => m.Trim()).Distinct(StringComparer.OrdinalIgnoreCase)];
    }
}
