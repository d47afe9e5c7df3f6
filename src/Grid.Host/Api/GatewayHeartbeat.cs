using System.Net;
using Grid.Client;

namespace Grid.Host.Api;

/// <summary>The gateway fields of a heartbeat: the gateway address, per-name traffic under a sequence, destination health.</summary>
public static class GatewayHeartbeat
{
    public const int MaxTrafficNames = 4096;
    public const int MaxHealthReports = 4096;
    public const int MaxReasonLength = 256;
    public const int MaxDestinationIdLength = 64;

    public static void Check(Validation validation, HeartbeatRequest body)
    {
        if (body.GatewayAddress is { } address && (address.Length > 64 || !(IPEndPoint.TryParse(address, out _) || IPAddress.TryParse(address, out _))))
        {
            validation.Add("gatewayAddress", "must be an IP address or IP:port (the agent's --gateway-listen).");
        }

        if (body.TrafficSequence is < 0)
        {
            validation.Add("trafficSequence", "must be 0 or more.");
        }

        var traffic = body.Traffic ?? [];
        if (traffic.Length > MaxTrafficNames)
        {
            validation.Add("traffic", $"at most {MaxTrafficNames} names per heartbeat.");
            traffic = [];
        }

        for (var i = 0; i < traffic.Length; i++)
        {
            if (traffic[i] is not { BytesIn: >= 0, BytesOut: >= 0 } t || !NameValidation.IsName(t.Name))
            {
                validation.Add($"traffic[{i}]", "needs a name and bytesIn, bytesOut of 0 or more.");
            }
        }

        if (traffic.Length > 0 && body.TrafficSequence is not > 0)
        {
            validation.Add("trafficSequence", "must be 1 or more when traffic is reported.");
        }

        var health = body.Health ?? [];
        if (health.Length > MaxHealthReports)
        {
            validation.Add("health", $"at most {MaxHealthReports} reports per heartbeat.");
            health = [];
        }

        for (var i = 0; i < health.Length; i++)
        {
            if (health[i] is not { DestinationId.Length: > 0 and <= MaxDestinationIdLength } h || !NameValidation.IsName(h.Name)
                || h.Reason is { Length: > MaxReasonLength })
            {
                validation.Add($"health[{i}]", $"needs a name, a destinationId of 1-{MaxDestinationIdLength} characters and a reason of at most {MaxReasonLength}.");
            }
        }
    }
}
