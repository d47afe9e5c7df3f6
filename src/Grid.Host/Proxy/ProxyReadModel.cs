using System.Text.Json;

namespace Grid.Host.Proxy;

/// <summary>A reservation as a grid-proxy node contract.</summary>
public sealed record ContractRow(long ContractId, long TwinId, string State, long CreatedAt, long NodeId, long FarmId, int PublicIps);

/// <summary>One bill of a contract: amount in minor units, time as unix seconds (the bill's end).</summary>
public sealed record BillRow(long ContractId, long Sequence, long Amount, long Timestamp);

/// <summary>A twin as the ledger announced it.</summary>
public sealed record TwinRow(long TwinId, string Name);

/// <summary>
/// The grid-proxy read model: twins, registered farms, contracts and bills, folded from ledger entries in sequence
/// order (the kinds of LEDGER-EVENTS). Applying an entry twice, or an entry at or below <see cref="Head"/>, changes
/// nothing, so a follower may re-read a batch after a failure. Reads take a short lock and copy what they need,
/// so a list query never blocks the follower for longer than its copy.
/// </summary>
public sealed class ProxyReadModel
{
    public const string Created = "Created";
    public const string GracePeriod = "GracePeriod";
    public const string Deleted = "Deleted";

    private readonly Lock _lock = new();
    private readonly Dictionary<long, TwinRow> _twins = [];
    private readonly HashSet<long> _farms = [];
    private readonly Dictionary<long, ContractRow> _contracts = [];
    private readonly Dictionary<long, List<long>> _contractsByTwin = [];
    private readonly Dictionary<long, List<BillRow>> _bills = [];
    private long _head;

    /// <summary>The sequence number of the last entry applied (0 before any).</summary>
    public long Head => Volatile.Read(ref _head);

    public int ContractCount
    {
        get
        {
            lock (_lock)
            {
                return _contracts.Count;
            }
        }
    }

    public int TwinCount
    {
        get
        {
            lock (_lock)
            {
                return _twins.Count;
            }
        }
    }

    public void Apply(IEnumerable<LedgerEntry> entries)
    {
        lock (_lock)
        {
            foreach (var entry in entries)
            {
                if (entry.Seq <= _head)
                {
                    continue;
                }

                ApplyOne(entry);
                Volatile.Write(ref _head, entry.Seq);
            }
        }
    }

    public long[] FarmIds()
    {
        lock (_lock)
        {
            return [.. _farms];
        }
    }

    public TwinRow[] Twins()
    {
        lock (_lock)
        {
            return [.. _twins.Values];
        }
    }

    public bool TryGetContract(long contractId, out ContractRow contract)
    {
        lock (_lock)
        {
            return _contracts.TryGetValue(contractId, out contract!);
        }
    }

    /// <summary>All contracts, or only one twin's (read through the twin index, not a scan).</summary>
    public ContractRow[] Contracts(long? twinId)
    {
        lock (_lock)
        {
            if (twinId is not { } twin)
            {
                return [.. _contracts.Values];
            }

            return _contractsByTwin.TryGetValue(twin, out var ids) ? [.. ids.Select(id => _contracts[id])] : [];
        }
    }

    /// <summary>A contract's bills, newest first.</summary>
    public BillRow[] Bills(long contractId)
    {
        lock (_lock)
        {
            return _bills.TryGetValue(contractId, out var bills)
                ? [.. bills.OrderByDescending(b => b.Timestamp).ThenByDescending(b => b.Sequence)]
                : [];
        }
    }

    private void ApplyOne(LedgerEntry entry)
    {
        JsonElement details;
        try
        {
            using var doc = JsonDocument.Parse(entry.Details ?? "{}");
            details = doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return;
        }

        if (details.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        var at = entry.At.ToUnixTimeSeconds();
        switch (entry.Kind)
        {
            case LedgerKinds.TwinCreated:
                var twinId = Long(details, "twinId");
                _twins[twinId] = new TwinRow(twinId, Text(details, "name"));
                break;
            case LedgerKinds.FarmRegistered:
                _farms.Add(Long(details, "farmId"));
                break;
            case "reservation.placed":
                Place(details, at);
                break;
            case "reservation.moved":
                Update(details, c => c with { NodeId = Long(details, "nodeId"), FarmId = Long(details, "farmId", c.FarmId) });
                break;
            case "reservation.grace":
                Update(details, c => c.State == Deleted ? c : c with { State = GracePeriod });
                break;
            case "reservation.resumed":
                Update(details, c => c.State == Deleted ? c : c with { State = Created });
                break;
            case "reservation.cancelled":
                Update(details, c => c with { State = Deleted });
                break;
            case LedgerKinds.Bill:
                Bill(entry, details, at);
                break;
        }
    }

    private void Place(JsonElement details, long at)
    {
        var id = Long(details, "reservationId");
        if (_contracts.TryGetValue(id, out var known))
        {
            // A re-placement at a higher epoch (after a lost node) keeps the contract, only its node changes.
            _contracts[id] = known with { NodeId = Long(details, "nodeId"), FarmId = Long(details, "farmId", known.FarmId) };
            return;
        }

        var twinId = Long(details, "twinId");
        _contracts[id] = new ContractRow(id, twinId, Created, at, Long(details, "nodeId"), Long(details, "farmId"), (int)Long(details, "publicIps"));
        if (!_contractsByTwin.TryGetValue(twinId, out var ids))
        {
            _contractsByTwin[twinId] = ids = [];
        }

        ids.Add(id);
    }

    private void Update(JsonElement details, Func<ContractRow, ContractRow> change)
    {
        var id = Long(details, "reservationId");
        if (_contracts.TryGetValue(id, out var contract))
        {
            _contracts[id] = change(contract);
        }
    }

    private void Bill(LedgerEntry entry, JsonElement details, long at)
    {
        var contractId = Long(details, "reservationId");
        var amount = entry.Amount ?? Long(details, "amount");
        var timestamp = details.TryGetProperty("to", out var to) && to.ValueKind == JsonValueKind.String && to.TryGetDateTimeOffset(out var end)
            ? end.ToUnixTimeSeconds()
            : at;
        if (!_bills.TryGetValue(contractId, out var bills))
        {
            _bills[contractId] = bills = [];
        }

        bills.Add(new BillRow(contractId, Long(details, "sequence"), amount, timestamp));
    }

    private static long Long(JsonElement details, string name, long fallback = 0) =>
        details.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number)
            ? number
            : fallback;

    private static string Text(JsonElement details, string name) =>
        details.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : "";
}
