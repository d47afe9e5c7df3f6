using System.Globalization;

namespace Grid.Agent.Devices;

/// <summary>The agent's <c>--gpu id=0000:01:00.0,vendor=NVIDIA,device=A100,memory=40960</c> (tests, or GPUs sysfs does not show).</summary>
public static class GpuOption
{
    /// <summary>The GPU an option names, or an error saying what is wrong with it.</summary>
    public static (GpuDevice? Gpu, string? Error) Parse(string text)
    {
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !fields.TryAdd(part[..eq].Trim(), part[(eq + 1)..].Trim()))
            {
                return (null, $"--gpu '{text}': expected id=…,vendor=…,device=…[,memory=MiB], each once");
            }
        }

        if (!fields.TryGetValue("id", out var id) || id.Length == 0 || !fields.TryGetValue("vendor", out var vendor) || vendor.Length == 0
            || !fields.TryGetValue("device", out var device) || device.Length == 0)
        {
            return (null, $"--gpu '{text}': id, vendor and device are required");
        }

        var memory = 0L;
        if (fields.TryGetValue("memory", out var given) && !long.TryParse(given, NumberStyles.None, CultureInfo.InvariantCulture, out memory))
        {
            return (null, $"--gpu '{text}': memory must be a whole number of MiB");
        }

        return fields.Keys.Except(["id", "vendor", "device", "memory"], StringComparer.OrdinalIgnoreCase).FirstOrDefault() is { } unknown
            ? (null, $"--gpu '{text}': unknown field '{unknown}'")
            : (new GpuDevice(id, vendor, device, memory), null);
    }
}
