using System.Collections.Immutable;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Grid.Billing;

/// <summary>
/// Farm earnings per node and per day, folded from the <c>bill</c> entries of the ledger (this silo's reader), so
/// they are exactly what was billed: a bill is counted once because the ledger holds it once. Each line earns its
/// farmer floor(line × FarmerShare), the same rule as the bill's postings (a name's traffic lines earn the gateway
/// node's farm; its hours earn no farm); a line counts on the day its bill ends (UTC). Caught up lazily when asked.
/// </summary>
public sealed class EarningsIndex(ILedgerReader ledger, IOptions<BillingOptions> options)
{
    private const int Batch = 5_000;
    private readonly SemaphoreSlim _catchUp = new(1, 1);
    private readonly Dictionary<long, Dictionary<(DateOnly Day, long NodeId), (long Seconds, long Amount)>> _farms = [];
    private readonly Dictionary<long, (long Amount, long Bills)> _providers = [];
    private long _nextSeq = 1;

    public async Task<FarmEarnings> GetAsync(long farmId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        await _catchUp.WaitAsync(cancellationToken);
        try
        {
            await CatchUpAsync(cancellationToken);
            var (first, last) = (DateOnly.FromDateTime(from.UtcDateTime), DateOnly.FromDateTime(to.UtcDateTime));
            var rows = _farms.TryGetValue(farmId, out var farm)
                ? farm.Where(r => r.Key.Day >= first && r.Key.Day < last).ToList()
                : [];
            var days = rows.GroupBy(r => r.Key.Day).OrderBy(g => g.Key)
                .Select(g => new DayEarnings(g.Key, g.Sum(r => r.Value.Amount), Nodes(g)))
                .ToImmutableArray();
            return new FarmEarnings(farmId, from, to, rows.Sum(r => r.Value.Amount), Nodes(rows), days);
        }
        finally
        {
            _catchUp.Release();
        }
    }

    /// <summary>What a solution provider earned from the bills in the ledger so far (its cut, as each bill records it).</summary>
    public async Task<ProviderEarnings> GetProviderAsync(long twinId, CancellationToken cancellationToken = default)
    {
        await _catchUp.WaitAsync(cancellationToken);
        try
        {
            await CatchUpAsync(cancellationToken);
            var (amount, bills) = _providers.GetValueOrDefault(twinId);
            return new ProviderEarnings(twinId, amount, bills, options.Value.Currency);
        }
        finally
        {
            _catchUp.Release();
        }
    }

    private static ImmutableArray<NodeEarnings> Nodes(IEnumerable<KeyValuePair<(DateOnly Day, long NodeId), (long Seconds, long Amount)>> rows) =>
        [.. rows.GroupBy(r => r.Key.NodeId).OrderBy(g => g.Key)
            .Select(g => new NodeEarnings(g.Key, g.Sum(r => r.Value.Seconds), g.Sum(r => r.Value.Amount)))];

    private async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        var share = options.Value.FarmerShareRatio;
        while (true)
        {
            var entries = await ledger.ReadAsync(_nextSeq, Batch, cancellationToken);
            foreach (var entry in entries)
            {
                if (entry.Kind == LedgerKinds.Bill && entry.Details is { } details
                    && JsonSerializer.Deserialize<Bill>(details, BillingEvents.Json) is { } bill)
                {
                    Add(bill, share);
                }

                _nextSeq = entry.Seq + 1;
            }

            if (entries.Count < Batch)
            {
                return;
            }
        }
    }

    private void Add(Bill bill, (long Numerator, long Denominator) share)
    {
        var day = DateOnly.FromDateTime(bill.To.UtcDateTime);
        if (bill.SolutionProvider is { } provider)
        {
            var (amount, bills) = _providers.GetValueOrDefault(provider);
            _providers[provider] = (amount + bill.SolutionProviderAmount, bills + 1);
        }

        // Lines of farm 0 (a name's hours) are the grid's: no farm earns them. A gpu line repeats its capacity line's seconds.
        foreach (var line in bill.Lines.Where(l => l.FarmId != 0))
        {
            if (!_farms.TryGetValue(line.FarmId, out var farm))
            {
                _farms[line.FarmId] = farm = [];
            }

            var known = farm.GetValueOrDefault((day, line.NodeId));
            farm[(day, line.NodeId)] = (known.Seconds + (line.Kind == BillLine.GpuKind ? 0 : line.Seconds), known.Amount + Pricing.FarmerPart(line.Amount, share.Numerator, share.Denominator));
        }
    }
}
