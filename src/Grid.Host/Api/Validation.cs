using System.Collections.Immutable;
using System.Net;
using System.Text.RegularExpressions;
using Grid.Client;

namespace Grid.Host.Api;

/// <summary>
/// Turns request bodies into domain values, collecting every problem by field name so a client sees all its
/// mistakes in one 400 ValidationProblem. Limits reject absurd sizes before they reach a grain.
/// </summary>
public sealed partial class Validation
{
    public const long MaxCru = 4096;
    public const long MaxMru = 64L << 40;
    public const long MaxDisk = 10L << 50;
    public const int MaxIpv4 = 64;
    public const int MaxPublicIps = 1024;

    private readonly Dictionary<string, List<string>> _errors = [];

    public bool IsValid => _errors.Count == 0;

    public IDictionary<string, string[]> Errors => _errors.ToDictionary(e => e.Key, e => e.Value.ToArray());

    public void Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list))
        {
            _errors[field] = list = [];
        }

        list.Add(message);
    }

    public string Name(string field, string? value, int max = 64)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            Add(field, "is required.");
            return "";
        }

        if (value.Length > max || !NamePattern().IsMatch(value))
        {
            Add(field, $"must be 1-{max} letters, digits, spaces or . _ - characters.");
        }

        return value.Trim();
    }

    public string? OptionalName(string field, string? value, int max = 64) =>
        value is null ? null : Name(field, value, max);

    public Capacity Resources(string field, ResourcesRequest? value, bool forNode)
    {
        if (value is null)
        {
            Add(field, "is required.");
            return Capacity.Zero;
        }

        var cru = Part(field, "cru", value.Cru, forNode ? 1 : 0, MaxCru, required: forNode);
        var mru = Part(field, "mru", value.Mru, forNode ? 1 : 0, MaxMru, required: forNode);
        var sru = Part(field, "sru", value.Sru, 0, MaxDisk, required: false);
        var hru = Part(field, "hru", value.Hru, 0, MaxDisk, required: false);
        var ipv4 = (int)Part(field, "ipv4", value.Ipv4, 0, forNode ? 0 : MaxIpv4, required: false);

        // A node's GPUs are listed one by one (gpus), so they can be handed out by id.
        var gpu = (int)Part(field, "gpu", value.Gpu, 0, forNode ? 0 : MaxGpu, required: false);
        return new Capacity(cru, mru, sru, hru, ipv4, gpu);
    }

    public long Amount(string field, long? value, long min, long max, bool required) => Part(field, null, value, min, max, required);

    /// <summary><see cref="Amount"/> of a field that may be left out: null then.</summary>
    public long? OptionalAmount(string field, long? value, long min, long max) =>
        value is { } given ? Amount(field, given, min, max, required: false) : null;

    /// <summary><see cref="Amount"/> of <c>field.part</c>, whose name is only spelled out for an error (every reservation passes here).</summary>
    private long Part(string field, string? part, long? value, long min, long max, bool required)
    {
        if (value is null)
        {
            if (required)
            {
                Add(Name(field, part), "is required.");
            }

            return 0;
        }

        if (value < min || value > max)
        {
            Add(Name(field, part), $"must be between {min} and {max}.");
            return 0;
        }

        return value.Value;
    }

    private static string Name(string field, string? part) => part is null ? field : $"{field}.{part}";

    public ImmutableArray<PublicIp> PublicIps(ImmutableArray<PublicIpRequest>? values)
    {
        if (values is not { } ips)
        {
            return [];
        }

        if (ips.Length > MaxPublicIps)
        {
            Add("publicIps", $"at most {MaxPublicIps} addresses per farm.");
            return [];
        }

        var result = ImmutableArray.CreateBuilder<PublicIp>();
        var seen = new HashSet<string>();
        for (var i = 0; i < ips.Length; i++)
        {
            var field = $"publicIps[{i}]";
            if (ips[i] is not { Ip: { } cidr, Gateway: { } gateway } || !TryParseCidr(cidr, out var address, out var prefix))
            {
                Add(field, "needs an \"ip\" in CIDR form like 185.69.166.2/24 and a \"gateway\".");
                continue;
            }

            if (!IPAddress.TryParse(gateway, out var gw) || gw.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
                || !SameNetwork(address, gw, prefix) || gw.Equals(address))
            {
                Add(field, $"gateway {gateway} must be another IPv4 address in {cidr}.");
                continue;
            }

            if (!seen.Add(address.ToString()))
            {
                Add(field, $"{address} is listed twice.");
                continue;
            }

            result.Add(new PublicIp($"{address}/{prefix}", gw.ToString()));
        }

        return result.ToImmutable();
    }

    private static bool TryParseCidr(string value, out IPAddress address, out int prefix)
    {
        address = IPAddress.None;
        prefix = 0;
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        return slash > 0
            && IPAddress.TryParse(value[..slash], out address!)
            && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            && int.TryParse(value[(slash + 1)..], out prefix)
            && prefix is >= 8 and <= 32;
    }

    private static bool SameNetwork(IPAddress a, IPAddress b, int prefix)
    {
        var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
        return (ToUInt(a) & mask) == (ToUInt(b) & mask);
    }

    private static uint ToUInt(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        return (uint)(bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3]);
    }

    [GeneratedRegex(@"^[\p{L}\p{N}][\p{L}\p{N} ._-]*\z")]
    private static partial Regex NamePattern();
}
