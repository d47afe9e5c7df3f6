using System.Text.Json;

namespace Grid.Proxy;

/// <summary>What one ledger entry means to the grid-proxy read model (the kinds of LEDGER-EVENTS it folds).</summary>
public abstract record ProxyEvent;

public sealed record TwinCreatedEvent(long TwinId, string Name) : ProxyEvent;

/// <summary>A farm and its address pool; <paramref name="Gateways"/> is parallel to <paramref name="PublicIps"/> ("" where not recorded).</summary>
public sealed record FarmRegisteredEvent(long FarmId, long TwinId, string Name, string Certification, string[] PublicIps, string[] Gateways) : ProxyEvent;

/// <summary>
/// A placement; a second one for the same reservation (a re-placement) only moves it. <paramref name="Ips"/> are the
/// addresses of <paramref name="FarmId"/> it holds from now on, null in entries written before they were recorded.
/// <paramref name="Type"/> is the grid proxy's contract type: <c>node</c> (a reservation) or <c>rent</c> (a rent contract's start).
/// </summary>
public sealed record PlacedEvent(
    long ContractId, long TwinId, long NodeId, long? FarmId, int PublicIps, long At, string[]? Ips = null, string Type = ProxyEvents.NodeContract) : ProxyEvent;

/// <summary>A move; <paramref name="Ips"/> replace the addresses the contract held (null: not recorded, unchanged).</summary>
public sealed record MovedEvent(long ContractId, long NodeId, long? FarmId, string[]? Ips = null) : ProxyEvent;

/// <summary>A contract's new state; a deleted contract stays deleted unless <paramref name="State"/> is deleted.</summary>
public sealed record StateEvent(long ContractId, string State) : ProxyEvent;

/// <summary>A bill: amount in minor units, <paramref name="Timestamp"/> the end of the billed period (unix seconds).</summary>
public sealed record BilledEvent(long ContractId, long Sequence, long? TwinId, long Amount, long Timestamp) : ProxyEvent;

/// <summary>Decodes ledger entries into <see cref="ProxyEvent"/>s; entries of other kinds or with unreadable details are skipped.</summary>
public static class ProxyEvents
{
    public const string Created = "Created";
    public const string GracePeriod = "GracePeriod";
    public const string Deleted = "Deleted";

    /// <summary>The ledger kinds <see cref="Decode"/> folds; entries of any other kind mean nothing to the read model.</summary>
    public static readonly string[] Kinds =
    [
        LedgerKinds.TwinCreated, LedgerKinds.FarmRegistered, LedgerKinds.Bill,
        "reservation.placed", "reservation.moved", "reservation.grace", "reservation.resumed", "reservation.cancelled",
        LedgerKinds.NodeRented, LedgerKinds.NodeReleased,
    ];

    /// <summary>The grid proxy's type of a reservation's contract.</summary>
    public const string NodeContract = "node";

    /// <summary>The grid proxy's type of a rent contract (a whole node).</summary>
    public const string RentContract = "rent";

    public static ProxyEvent? Decode(LedgerEntry entry)
    {
        // Most entries of a busy ledger are of kinds the read model does not fold (usage, payouts): not parsed.
        if (Array.IndexOf(Kinds, entry.Kind) < 0)
        {
            return null;
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(entry.Details ?? "{}");
        }
        catch (JsonException)
        {
            return null;
        }

        // Read in place: everything kept from it is copied out (numbers, strings) before the document is returned.
        using (doc)
        {
            return doc.RootElement.ValueKind == JsonValueKind.Object ? Read(entry, doc.RootElement) : null;
        }
    }

    private static ProxyEvent? Read(LedgerEntry entry, JsonElement details)
    {
        var at = entry.At.ToUnixTimeSeconds();
        return entry.Kind switch
        {
            LedgerKinds.TwinCreated => new TwinCreatedEvent(Long(details, "twinId"), Text(details, "name")),
            LedgerKinds.FarmRegistered => new FarmRegisteredEvent(Long(details, "farmId"), Long(details, "twinId"), Text(details, "name"),
                Certification(Text(details, "certification")), Texts(details, "publicIps"), Gateways(details)),
            "reservation.placed" => new PlacedEvent(Long(details, "reservationId"), Long(details, "twinId"), Long(details, "nodeId"),
                OptionalLong(details, "farmId"), (int)Long(details, "publicIps"), at, OptionalTexts(details, "ips")),
            "reservation.moved" => new MovedEvent(Long(details, "reservationId"), Long(details, "nodeId"), OptionalLong(details, "farmId"),
                OptionalTexts(details, "ips")),
            "reservation.grace" => new StateEvent(Long(details, "reservationId"), GracePeriod),
            "reservation.resumed" => new StateEvent(Long(details, "reservationId"), Created),
            "reservation.cancelled" => new StateEvent(Long(details, "reservationId"), Deleted),
            // A rent contract is a contract of its own (tfchain's rent contract): created with the rent, deleted at its end.
            LedgerKinds.NodeRented => new PlacedEvent(Long(details, "contractId"), Long(details, "twinId"), Long(details, "nodeId"),
                OptionalLong(details, "farmId"), 0, at, null, RentContract),
            LedgerKinds.NodeReleased => new StateEvent(Long(details, "contractId"), Deleted),
            // A gateway name's bill is no contract's (the read model has no name contracts): left out.
            LedgerKinds.Bill when details.TryGetProperty("name", out _) => null,
            LedgerKinds.Bill => new BilledEvent(Long(details, "reservationId"), Long(details, "sequence"), OptionalLong(details, "twinId"),
                entry.Amount ?? Long(details, "amount"),
                details.TryGetProperty("to", out var to) && to.ValueKind == JsonValueKind.String && to.TryGetDateTimeOffset(out var end)
                    ? end.ToUnixTimeSeconds()
                    : at),
            _ => null,
        };
    }

    /// <summary>The state after <paramref name="change"/>: nothing brings a deleted contract back.</summary>
    public static string Next(string current, string change) => current == Deleted ? Deleted : change;

    private static long Long(JsonElement details, string name) => OptionalLong(details, name) ?? 0;

    private static long? OptionalLong(JsonElement details, string name) =>
        details.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number)
            ? number
            : null;

    private static string Text(JsonElement details, string name) =>
        details.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : "";

    private static string[] Texts(JsonElement details, string name) => OptionalTexts(details, name) ?? [];

    private static string[]? OptionalTexts(JsonElement details, string name) =>
        details.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? [.. value.EnumerateArray().Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString()!)]
            : null;

    private static string[] Gateways(JsonElement details)
    {
        var ips = Texts(details, "publicIps");
        var gateways = Texts(details, "gateways");
        return gateways.Length == ips.Length ? gateways : [.. ips.Select(_ => "")];
    }

    // The ledger spells the certification in camelCase (gold); the grid proxy answers the enum's name (Gold).
    private static string Certification(string text) =>
        text.Length == 0 ? "" : char.ToUpperInvariant(text[0]) + text[1..];
}
