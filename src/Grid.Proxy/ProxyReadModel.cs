namespace Grid.Proxy;

/// <summary>A reservation as a grid-proxy node contract, or a rent contract (<see cref="Type"/> <c>rent</c>).</summary>
public sealed record ContractRow(
    long ContractId, long TwinId, string State, long CreatedAt, long NodeId, long FarmId, int PublicIps, string Type = ProxyEvents.NodeContract);

/// <summary>One bill of a contract: amount in minor units, time as unix seconds (the bill's end).</summary>
public sealed record BillRow(long ContractId, long Sequence, long Amount, long Timestamp);

/// <summary>A twin as the ledger announced it.</summary>
public sealed record TwinRow(long TwinId, string Name);

/// <summary>
/// The grid-proxy read model: twins, registered farms and which contract holds each of their addresses, contracts and bills, folded from ledger entries in sequence
/// order (the kinds of LEDGER-EVENTS). Applying an entry twice, or an entry at or below <see cref="Head"/>, changes
/// nothing, so a follower may re-read a batch after a failure. Reads take a short lock and copy what they need,
/// so a list query never blocks the follower for longer than its copy.
/// </summary>
public sealed class ProxyReadModel
{
    public const string Created = ProxyEvents.Created;
    public const string GracePeriod = ProxyEvents.GracePeriod;
    public const string Deleted = ProxyEvents.Deleted;

    private readonly Lock _lock = new();
    private readonly Dictionary<long, TwinRow> _twins = [];
    private readonly Dictionary<long, FarmEntry> _farms = [];
    // The farm whose addresses a contract holds (a contract holds addresses of one farm at a time).
    private readonly Dictionary<long, long> _ipFarmOf = [];
    // Rows kept as structs of numbers (the state as a code), built into ContractRow/BillRow records when read: a
    // million contracts and their hourly bills are the model's bulk (measured: 72 + 38 B of record and dictionary
    // entry per contract before, 56 B of record and list slot per bill).
    private readonly Dictionary<long, KeptContract> _contracts = [];
    private readonly Dictionary<long, List<long>> _contractsByTwin = [];
    private readonly Dictionary<long, List<KeptBill>> _bills = [];
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

    /// <summary>Every registered farm with its addresses and their holders, as of now.</summary>
    public FarmRow[] Farms()
    {
        lock (_lock)
        {
            return [.. _farms.Values.Select(f => f.Row())];
        }
    }

    /// <summary>The farm's name as it was registered ("" for a farm the ledger has not announced).</summary>
    public string FarmName(long farmId)
    {
        lock (_lock)
        {
            return _farms.TryGetValue(farmId, out var farm) ? farm.Registered.Name : "";
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
            var found = _contracts.TryGetValue(contractId, out var kept);
            contract = found ? kept.Row(contractId) : null!;
            return found;
        }
    }

    /// <summary>All contracts, or only one twin's (read through the twin index, not a scan).</summary>
    public ContractRow[] Contracts(long? twinId)
    {
        lock (_lock)
        {
            if (twinId is not { } twin)
            {
                return [.. _contracts.Select(c => c.Value.Row(c.Key))];
            }

            return _contractsByTwin.TryGetValue(twin, out var ids) ? [.. ids.Select(id => _contracts[id].Row(id))] : [];
        }
    }

    /// <summary>A contract's bills, newest first.</summary>
    public BillRow[] Bills(long contractId)
    {
        lock (_lock)
        {
            return _bills.TryGetValue(contractId, out var bills)
                ? [.. bills.OrderByDescending(b => b.Timestamp).ThenByDescending(b => b.Sequence).Select(b => new BillRow(contractId, b.Sequence, b.Amount, b.Timestamp))]
                : [];
        }
    }

    private void ApplyOne(LedgerEntry entry)
    {
        switch (ProxyEvents.Decode(entry))
        {
            case TwinCreatedEvent twin:
                _twins[twin.TwinId] = new TwinRow(twin.TwinId, twin.Name);
                break;
            case FarmRegisteredEvent farm:
                _farms[farm.FarmId] = new FarmEntry(farm,
                    _farms.TryGetValue(farm.FarmId, out var known) && known.Holders.Length == farm.PublicIps.Length ? known.Holders : new long[farm.PublicIps.Length]);
                break;
            case PlacedEvent placed:
                Place(placed);
                Hold(placed.ContractId, placed.FarmId, placed.Ips);
                break;
            case MovedEvent moved:
                Update(moved.ContractId, c => c with { NodeId = moved.NodeId, FarmId = moved.FarmId ?? c.FarmId });
                Hold(moved.ContractId, moved.FarmId, moved.Ips);
                break;
            case StateEvent state:
                Update(state.ContractId, c => c with { State = KeptContract.Code(ProxyEvents.Next(KeptContract.States[c.State], state.State)) });
                if (state.State == Deleted)
                {
                    Release(state.ContractId);
                }

                break;
            case BilledEvent bill:
                if (!_bills.TryGetValue(bill.ContractId, out var bills))
                {
                    _bills[bill.ContractId] = bills = [];
                }

                bills.Add(new KeptBill(bill.Sequence, bill.Amount, bill.Timestamp));
                break;
        }
    }

    private void Place(PlacedEvent placed)
    {
        var id = placed.ContractId;
        if (_contracts.TryGetValue(id, out var known))
        {
            // A re-placement at a higher epoch (after a lost node) keeps the contract, only its node changes.
            _contracts[id] = known with { NodeId = placed.NodeId, FarmId = placed.FarmId ?? known.FarmId };
            return;
        }

        _contracts[id] = new KeptContract(placed.TwinId, placed.At, placed.NodeId, placed.FarmId ?? 0, placed.PublicIps, KeptContract.Code(Created), placed.Type);
        if (!_contractsByTwin.TryGetValue(placed.TwinId, out var ids))
        {
            _contractsByTwin[placed.TwinId] = ids = [];
        }

        ids.Add(id);
    }

    /// <summary>The contract holds <paramref name="ips"/> of the farm from now on, and no other address (null: not recorded, unchanged).</summary>
    private void Hold(long contractId, long? farmId, string[]? ips)
    {
        if (ips is null || farmId is not { } id)
        {
            return;
        }

        Release(contractId);
        if (ips.Length == 0 || !_farms.TryGetValue(id, out var farm))
        {
            return;
        }

        for (var i = 0; i < farm.Registered.PublicIps.Length; i++)
        {
            if (ips.Contains(farm.Registered.PublicIps[i], StringComparer.Ordinal))
            {
                farm.Holders[i] = contractId;
            }
        }

        _ipFarmOf[contractId] = id;
    }

    /// <summary>Frees what the contract holds; an address another contract took since stays that contract's.</summary>
    private void Release(long contractId)
    {
        if (_ipFarmOf.Remove(contractId, out var farmId) && _farms.TryGetValue(farmId, out var farm))
        {
            for (var i = 0; i < farm.Holders.Length; i++)
            {
                if (farm.Holders[i] == contractId)
                {
                    farm.Holders[i] = 0;
                }
            }
        }
    }

    private void Update(long id, Func<KeptContract, KeptContract> change)
    {
        if (_contracts.TryGetValue(id, out var contract))
        {
            _contracts[id] = change(contract);
        }
    }

    /// <summary>A contract as kept: <see cref="State"/> indexes <see cref="States"/>; <see cref="Type"/> is one of the few shared type names.</summary>
    private readonly record struct KeptContract(long TwinId, long CreatedAt, long NodeId, long FarmId, int PublicIps, byte State, string Type)
    {
        public static readonly string[] States = [Created, GracePeriod, Deleted];

        public static byte Code(string state) => Array.IndexOf(States, state) is var code and >= 0
            ? (byte)code
            : throw new ArgumentOutOfRangeException(nameof(state), state, "Not a contract state of the read model.");

        public ContractRow Row(long contractId) => new(contractId, TwinId, States[State], CreatedAt, NodeId, FarmId, PublicIps, Type);
    }

    /// <summary>A bill as kept (its contract is the list's key).</summary>
    private readonly record struct KeptBill(long Sequence, long Amount, long Timestamp);

    /// <summary>A registered farm and, per address (same index), the contract holding it (0 when free).</summary>
    private sealed record FarmEntry(FarmRegisteredEvent Registered, long[] Holders)
    {
        public FarmRow Row() => new(Registered.FarmId, Registered.TwinId, Registered.Name, Registered.Certification,
            [.. Registered.PublicIps.Select((ip, i) => new PublicIpRow(Registered.FarmId, ip, Registered.Gateways[i], Holders[i]))]);
    }
}
