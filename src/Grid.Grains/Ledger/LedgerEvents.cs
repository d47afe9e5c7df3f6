using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Grid.Ledger;

/// <summary>The non-money entries the grid records (kinds, ids and details as the ledger events contract fixes them).</summary>
public static class LedgerEvents
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static LedgerAppend TwinCreated(long twinId, string name) =>
        Event($"twin:{twinId}:created", LedgerKinds.TwinCreated, $"twin:{twinId}", $"twin:{twinId}", new { twinId, name });

    public static LedgerAppend FarmRegistered(long farmId, long twinId, FarmSpec spec) =>
        Event($"farm:{farmId}:registered", LedgerKinds.FarmRegistered, $"twin:{twinId}", $"farm:{farmId}", new
        {
            farmId,
            twinId,
            name = spec.Name,
            certification = spec.Certification,
            publicIps = spec.PublicIps.IsDefault ? [] : spec.PublicIps.Select(ip => ip.Ip).ToArray(),
            // Parallel to publicIps (a list of strings for the readers that predate it): what the grid proxy shows per address.
            gateways = spec.PublicIps.IsDefault ? [] : spec.PublicIps.Select(ip => ip.Gateway).ToArray(),
        });

    public static LedgerAppend NodeRegistered(long nodeId, NodeRegistration registration) =>
        Event($"node:{nodeId}:registered", LedgerKinds.NodeRegistered, $"twin:{registration.TwinId}", $"node:{nodeId}", new
        {
            nodeId,
            farmId = registration.FarmId,
            twinId = registration.TwinId,
            resources = new { cru = registration.Resources.Cru, mru = registration.Resources.Mru, sru = registration.Resources.Sru, hru = registration.Resources.Hru },
            country = registration.Location.Country,
            city = registration.Location.City,
            certification = registration.Certification,
        });

    /// <summary>A node's status change; <paramref name="changedAt"/> (the persisted change time) makes the event id unique.</summary>
    public static LedgerAppend NodeStatus(long nodeId, bool up, DateTimeOffset changedAt, DateTimeOffset? lastHeartbeat)
    {
        var state = up ? "up" : "down";
        return Event(string.Create(CultureInfo.InvariantCulture, $"node:{nodeId}:{state}:{changedAt.UtcTicks}"),
            up ? LedgerKinds.NodeUp : LedgerKinds.NodeDown, "grid", $"node:{nodeId}", new { nodeId, lastHeartbeat });
    }

    /// <summary>A gateway name claimed; <paramref name="claim"/> (its claim number) makes the event id unique across re-claims.</summary>
    public static LedgerAppend NameClaimed(string name, long twinId, long claim) =>
        Event(string.Create(CultureInfo.InvariantCulture, $"name:{name}:claimed:{claim}"), LedgerKinds.NameClaimed, $"twin:{twinId}", $"name:{name}",
            new { name, twinId, claim });

    /// <summary>A gateway name released by its owner.</summary>
    public static LedgerAppend NameReleased(string name, long twinId, long claim) =>
        Event(string.Create(CultureInfo.InvariantCulture, $"name:{name}:released:{claim}"), LedgerKinds.NameReleased, $"twin:{twinId}", $"name:{name}",
            new { name, twinId, claim });

    private static LedgerAppend Event(string eventId, string kind, string actor, string subject, object details) =>
        new(eventId, kind, actor, subject, null, ImmutableArray<Posting>.Empty, JsonSerializer.Serialize(details, Json));
}
