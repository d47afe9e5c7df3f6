using System.Buffers;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Grid.Billing;

/// <summary>
/// The ledger entries billing emits (see LEDGER-EVENTS: kinds, event ids, actors, subjects), with compact camelCase
/// JSON details. Event ids are deterministic, so a retried append adds nothing.
/// </summary>
public static class BillingEvents
{
    public const string ReservationPlaced = "reservation.placed";
    public const string ReservationMoved = "reservation.moved";
    public const string ReservationGrace = "reservation.grace";
    public const string ReservationResumed = "reservation.resumed";
    public const string ReservationCancelled = "reservation.cancelled";
    public const string PricesChanged = "prices.changed";
    public const string CauseTenant = "tenant";
    public const string CauseOutOfFunds = "out-of-funds";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static string Twin(long twinId) => $"twin:{twinId}";

    public static string Reservation(long reservationId) => $"reservation:{reservationId}";

    public static string Details<T>(T value) => JsonSerializer.Serialize(value, Json);

    /// <summary>A placement; <c>ips</c> are the farm's addresses it holds from now on (what the grid-proxy's farms show as taken).</summary>
    public static LedgerAppend Placed(
        long reservationId, long twinId, long nodeId, long farmId, long epoch, Capacity resources, long pricePerHour, ImmutableArray<FarmIp> ips) =>
        new($"reservation:{reservationId}:placed:{epoch}", ReservationPlaced, Twin(twinId), Reservation(reservationId), null, [],
            PlacedDetails(reservationId, twinId, nodeId, farmId, epoch, resources, pricePerHour, ips));

    /// <summary>A move; <c>ips</c> replace the addresses the reservation held (a move inside the farm keeps them).</summary>
    public static LedgerAppend Moved(
        long reservationId, long fromNodeId, long nodeId, long farmId, long epoch, long pricePerHour, bool repriced, ImmutableArray<FarmIp> ips) =>
        new($"reservation:{reservationId}:moved:{epoch}", ReservationMoved, "grid", Reservation(reservationId), null, [],
            MovedDetails(reservationId, fromNodeId, nodeId, farmId, epoch, pricePerHour, repriced, ips));

    public static LedgerAppend Grace(long reservationId, long twinId, long n) =>
        new($"reservation:{reservationId}:grace:{n}", ReservationGrace, "grid", Reservation(reservationId), null, [],
            Details(new { reservationId, twinId }));

    public static LedgerAppend Resumed(long reservationId, long twinId, long n) =>
        new($"reservation:{reservationId}:resumed:{n}", ReservationResumed, "grid", Reservation(reservationId), null, [],
            Details(new { reservationId, twinId }));

    public static LedgerAppend Cancelled(long reservationId, long twinId, string cause) =>
        new($"reservation:{reservationId}:cancelled", ReservationCancelled, cause == CauseTenant ? Twin(twinId) : "grid",
            Reservation(reservationId), null, [], Details(new { reservationId, twinId, cause }));

    public static LedgerAppend PricesChangedEntry(long farmId, long ownerTwinId, long version, PriceList prices) =>
        new($"farm:{farmId}:prices:{version}", PricesChanged, Twin(ownerTwinId), $"farm:{farmId}", null, [],
            prices.Nu is { } nu ? Details(new { farmId, prices.Cu, prices.Su, prices.Ipu, nu }) : Details(new { farmId, prices.Cu, prices.Su, prices.Ipu }));

    public static LedgerAppend Deposit(long twinId, string key, long amount) =>
        new($"deposit:{twinId}:{key}", LedgerKinds.Deposit, "operator", Twin(twinId), amount, [new Posting(twinId, amount)],
            Details(new { twinId }));

    public static LedgerAppend Withdrawal(long twinId, string key, long amount) =>
        new($"withdrawal:{twinId}:{key}", LedgerKinds.Withdrawal, Twin(twinId), Twin(twinId), amount, [new Posting(twinId, -amount)],
            Details(new { twinId }));

    public static string BillId(long reservationId, long sequence) => $"bill:{reservationId}:{sequence}";

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _detailsBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? _detailsWriter;

    /// <summary>
    /// The details of a placement, written field by field: one per new reservation, on the placement path, where
    /// serializing an anonymous object cost a tenth of a placement. The same JSON as <see cref="Details{T}"/> would write.
    /// </summary>
    private static string PlacedDetails(
        long reservationId, long twinId, long nodeId, long farmId, long epoch, Capacity resources, long pricePerHour, ImmutableArray<FarmIp> ips)
    {
        var json = StartDetails();
        json.WriteNumber("reservationId", reservationId);
        json.WriteNumber("twinId", twinId);
        json.WriteNumber("nodeId", nodeId);
        json.WriteNumber("farmId", farmId);
        json.WriteNumber("epoch", epoch);
        json.WriteNumber("publicIps", resources.Ipv4);
        json.WriteNumber("pricePerHour", pricePerHour);
        json.WriteStartObject("resources");
        json.WriteNumber("cru", resources.Cru);
        json.WriteNumber("mru", resources.Mru);
        json.WriteNumber("sru", resources.Sru);
        json.WriteNumber("hru", resources.Hru);
        json.WriteNumber("ipv4", resources.Ipv4);
        json.WriteEndObject();
        return EndDetails(json, ips);
    }

    /// <summary>A move's details, field by field like a placement's: a failover writes one per moved reservation.</summary>
    private static string MovedDetails(
        long reservationId, long fromNodeId, long nodeId, long farmId, long epoch, long pricePerHour, bool repriced, ImmutableArray<FarmIp> ips)
    {
        var json = StartDetails();
        json.WriteNumber("reservationId", reservationId);
        json.WriteNumber("fromNodeId", fromNodeId);
        json.WriteNumber("nodeId", nodeId);
        json.WriteNumber("farmId", farmId);
        json.WriteNumber("epoch", epoch);
        json.WriteNumber("pricePerHour", pricePerHour);
        json.WriteBoolean("repriced", repriced);
        return EndDetails(json, ips);
    }

    /// <summary>The per-thread writer, reset, with the details object opened (a placement's are a few hundred bytes).</summary>
    private static Utf8JsonWriter StartDetails()
    {
        var buffer = _detailsBuffer ??= new ArrayBufferWriter<byte>(512);
        var json = _detailsWriter ??= new Utf8JsonWriter(buffer);
        buffer.ResetWrittenCount();
        json.Reset(buffer);
        json.WriteStartObject();
        return json;
    }

    /// <summary>Writes the <c>ips</c> array last, closes the object and returns the text.</summary>
    private static string EndDetails(Utf8JsonWriter json, ImmutableArray<FarmIp> ips)
    {
        json.WriteStartArray("ips");
        foreach (var ip in ips.IsDefault ? [] : ips)
        {
            json.WriteStringValue(ip.Ip);
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.Flush();
        return Encoding.UTF8.GetString(_detailsBuffer!.WrittenSpan);
    }
}
