using System.Text.Json;
using Grid.Billing;

namespace Grid.Grains.Tests;

/// <summary>What must hold after a sequence, recomputed from the ledger's entries by the test (not by the production fold).</summary>
internal sealed partial class BillingSequence
{
    private async Task CheckAsync()
    {
        var entries = await ledger.ReadAsync(1, int.MaxValue);
        var bills = entries.Where(e => e.Kind == LedgerKinds.Bill).ToList();

        // Debits equal credits, in every bill and over the whole ledger.
        foreach (var entry in bills)
        {
            Assert.Equal(0, entry.Postings.Sum(p => p.Amount));
            Assert.Equal(entry.Amount, -entry.Postings.Where(p => p.Amount < 0).Sum(p => p.Amount));
        }

        Assert.Equal(bills.Sum(e => e.Postings.Where(p => p.Amount > 0).Sum(p => p.Amount)), bills.Sum(e => e.Amount));

        foreach (var reservation in _reservations)
        {
            await CheckBillsAsync(reservation, entries);
        }

        foreach (var account in _tenants.Concat(_farmers).Append(Money.GridAccountId))
        {
            var postings = entries.SelectMany(e => e.Postings.Where(p => p.AccountId == account).Select(p => (e.Kind, p.Amount))).ToList();
            var deposits = postings.Where(p => p.Kind == LedgerKinds.Deposit).Sum(p => p.Amount);
            var withdrawals = -postings.Where(p => p.Kind == LedgerKinds.Withdrawal).Sum(p => p.Amount);
            var spending = -postings.Where(p => p.Kind == LedgerKinds.Bill && p.Amount < 0).Sum(p => p.Amount);
            var earnings = postings.Where(p => p.Kind == LedgerKinds.Bill && p.Amount > 0).Sum(p => p.Amount);
            Assert.Equal(postings.Count, postings.Count(p => p.Kind is LedgerKinds.Deposit or LedgerKinds.Withdrawal or LedgerKinds.Bill));
            var shown = await grid.Grains.GetGrain<IAccountGrain>(account).GetAsync();
            Assert.Equal((deposits - spending + earnings - withdrawals, spending, earnings), (shown.Balance, shown.Spent, shown.Earned));
            if (account != Money.GridAccountId && _farmers.Contains(account))
            {
                Assert.True(deposits + earnings - withdrawals >= 0, $"Farmer {account} withdrew more than it earned.");
            }
        }
    }

    private async Task CheckBillsAsync(ReservationModel reservation, IReadOnlyList<LedgerEntry> entries)
    {
        var bills = (await grid.Grains.GetGrain<IReservationGrain>(reservation.Id).GetBillsAsync()).Reverse().ToList();
        var inLedger = entries.Where(e => e.Kind == LedgerKinds.Bill && e.Subject == BillingEvents.Reservation(reservation.Id)).ToList();
        Assert.Equal(bills.Select(b => b.BillId), inLedger.Select(e => e.EventId));
        Assert.Equal(Enumerable.Range(1, bills.Count).Select(i => (long)i), bills.Select(b => b.Sequence));
        var previousTo = DateTimeOffset.MinValue;
        var billed = 0L;
        for (var i = 0; i < bills.Count; i++)
        {
            var bill = bills[i];
            var entry = Assert.Single(entries, e => e.EventId == bill.BillId);
            var recorded = JsonSerializer.Deserialize<Bill>(entry.Details!, BillingEvents.Json)!;
            Assert.Equal((bill.From, bill.To, bill.Amount, bill.TwinId), (recorded.From, recorded.To, recorded.Amount, recorded.TwinId));
            Assert.Equal(bill.Lines.ToList(), recorded.Lines.ToList());
            Assert.Equal((bill.Amount, reservation.Tenant), (entry.Amount!.Value, recorded.TwinId));
            Assert.True(bill.From >= previousTo && bill.To > bill.From, $"Bill {bill.BillId} covers {bill.From:O}-{bill.To:O} after {previousTo:O}.");
            previousTo = bill.To;

            // Exactly the seconds the model says each node served in the period, at the price of that placement.
            var expected = ServedIn(reservation, bill.From, bill.To);
            Assert.True(expected.Keys.Order().SequenceEqual(bill.Lines.Select(l => l.NodeId).Order())
                && bill.Lines.All(l => expected[l.NodeId].Seconds == l.Seconds),
                $"Bill {bill.BillId} ({bill.From:O}-{bill.To:O}) has {Describe(bill.Lines.Select(l => (l.NodeId, l.Seconds)))}; "
                + $"the node served {Describe(expected.Select(e => (e.Key, e.Value.Seconds)))}. Served: {Describe(reservation)}");
            foreach (var line in bill.Lines)
            {
                Assert.Equal(expected[line.NodeId].Price * line.Seconds / 3600, line.Amount);
            }

            Assert.Equal(bill.Amount, bill.Lines.Sum(l => l.Amount));
            billed += bill.Lines.Sum(l => l.Seconds);
            Stats.Add("bills");
            Stats.Add("lines on more than one node", bill.Lines.Length > 1 ? 1 : 0);

            // The tenant pays the amount; each farmer floor(90 %) of its lines; the grid the rest.
            var farmers = bill.Lines.GroupBy(l => _ownerOfFarm[l.FarmId]).ToDictionary(g => g.Key, g => g.Sum(l => l.Amount * 9 / 10));
            var expectedPostings = farmers.Where(f => f.Value != 0).Select(f => (f.Key, f.Value))
                .Append((reservation.Tenant, -bill.Amount)).Append((Money.GridAccountId, bill.Amount - farmers.Values.Sum()))
                .Where(p => p.Item2 != 0).Order().ToList();
            Assert.Equal(expectedPostings, entry.Postings.Select(p => (p.AccountId, p.Amount)).Order().ToList());
        }

        // Nothing served went unbilled: every served second (the reservation is cancelled by now) is in some bill.
        Assert.Null(reservation.Open);
        Assert.Equal(reservation.Served.Sum(s => Seconds(s, DateTimeOffset.MinValue, DateTimeOffset.MaxValue)), billed);
    }

    /// <summary>Seconds served per node within <c>(from, to]</c>, outside the node's down windows.</summary>
    private Dictionary<long, (long Seconds, long Price)> ServedIn(ReservationModel reservation, DateTimeOffset from, DateTimeOffset to)
    {
        var served = new Dictionary<long, (long Seconds, long Price)>();
        foreach (var segment in reservation.Served)
        {
            var seconds = Seconds(segment, from, to);
            if (seconds > 0)
            {
                served[segment.Node] = (served.GetValueOrDefault(segment.Node).Seconds + seconds, segment.Price);
            }
        }

        return served;
    }

    private long Seconds(Segment segment, DateTimeOffset from, DateTimeOffset to)
    {
        var start = segment.From > from ? segment.From : from;
        var end = segment.To < to ? segment.To : to;
        if (end <= start)
        {
            return 0;
        }

        var node = _nodes.Single(n => n.Id == segment.Node);
        var windows = node.DownWindows.Concat(node.DownSince is { } since ? [(since, DateTimeOffset.MaxValue)] : []);
        var down = windows.Sum(w => Math.Max(0, ((w.To < end ? w.To : end) - (w.From > start ? w.From : start)).Ticks));
        return ((end - start).Ticks - down) / TimeSpan.TicksPerSecond;
    }

    private static string Describe(IEnumerable<(long Node, long Seconds)> lines) =>
        "[" + string.Join(", ", lines.Select(l => $"node {l.Node}: {l.Seconds} s")) + "]";

    private static string Describe(ReservationModel reservation) =>
        string.Join(", ", reservation.Served.Select(s => $"{s.Node} {s.From:HH:mm:ss}-{s.To:HH:mm:ss}"));
}
