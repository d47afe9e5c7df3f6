using System.Collections.Immutable;
using Grid.Ledger;
using Grid.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using Orleans.TestingHost;

namespace Grid.Grains.Tests;

public sealed class LedgerClusterFixture : IAsyncLifetime
{
    public GatedLedgerStore Store { get; } = new();

    public GridCluster Grid { get; private set; } = null!;

    public ILedgerGrain Ledger => Grid.Grains.GetGrain<ILedgerGrain>(0);

    public async Task InitializeAsync() => Grid = await GridCluster.StartAsync(Store, ("Grid:Ledger:CheckpointEvery", "10"));

    public async Task DisposeAsync() => await Grid.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class LedgerCollection : ICollectionFixture<LedgerClusterFixture>
{
    public const string Name = "ledger";
}

/// <summary>The ledger grain and account grains on the real memory store: chain, idempotency, group commit, folds.</summary>
[Collection(LedgerCollection.Name)]
public sealed class LedgerGrainTests(LedgerClusterFixture fixture)
{
    [Fact]
    public async Task ConcurrentAppendsFormOneUnbrokenHashChain()
    {
        var prefix = $"test:{GridCluster.NewId()}";
        var entries = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => fixture.Ledger.AppendAsync(Note($"{prefix}:{i}"))));

        Assert.Equal(200, entries.Select(e => e.Seq).Distinct().Count());
        var stored = await fixture.Store.ReadAsync(1, int.MaxValue);
        Assert.Equal(Enumerable.Range(1, stored.Count).Select(i => (long)i), stored.Select(e => e.Seq));
        var prev = LedgerCanonical.GenesisHash;
        foreach (var entry in stored)
        {
            Assert.Equal(prev, entry.PrevHash);
            Assert.Equal(LedgerCanonical.Hash(entry), entry.Hash);
            prev = entry.Hash;
        }

        Assert.All(entries, e => Assert.Equal(stored[(int)e.Seq - 1], e));
    }

    [Fact]
    public async Task AppendsWaitingOnAFlushShareTheNextBatch()
    {
        var prefix = $"test:{GridCluster.NewId()}";
        fixture.Store.Hold();
        var first = fixture.Ledger.AppendAsync(Note($"{prefix}:first"));
        await Poll.UntilAsync(() => Task.FromResult(fixture.Store.Held == 1), TimeSpan.FromSeconds(20), "the first batch is in flight");
        var before = fixture.Store.Batches;
        var waiting = Enumerable.Range(0, 300).Select(i => fixture.Ledger.AppendAsync(Note($"{prefix}:{i}"))).ToList();
        await Poll.UntilAsync(async () => (await fixture.Ledger.GetStatusAsync()).Pending >= 301, TimeSpan.FromSeconds(20), "every append waits on the ledger");
        Assert.False(first.IsCompleted);
        fixture.Store.Release();

        await Task.WhenAll(waiting.Append(first));
        // The first batch, then one for all 300 (a stray node.up of another test may add one).
        Assert.InRange(fixture.Store.Batches - before, 2, 3);
    }

    [Fact]
    public void AnAppenderCallCarriesWholeItemsUpToItsAppendLimit()
    {
        // A backlog of placement batches (128 events each) built while the ledger stalled: one call takes 32 of
        // them (4,096 appends), not 4,096 of them (524,288 appends: past Orleans' message size between silos).
        Assert.Equal(32, LedgerAppender.ItemsInCall(Enumerable.Repeat(128, 10_000).ToList(), n => n, 4_096));
        Assert.Equal(3, LedgerAppender.ItemsInCall([1, 1, 1], n => n, 4_096));
        Assert.Equal(2, LedgerAppender.ItemsInCall([4_000, 96, 1], n => n, 4_096));
        // An item larger than the limit still leaves, alone.
        Assert.Equal(1, LedgerAppender.ItemsInCall([5_000, 1], n => n, 4_096));
    }

    [Fact]
    public async Task TheSilosAppenderBatchesConcurrentAppendsAndEachEventIsOneEntry()
    {
        var appender = ((InProcessSiloHandle)fixture.Grid.Cluster.Primary!).SiloHost.Services.GetRequiredService<LedgerAppender>();
        var (tenants, farmer) = (Enumerable.Range(0, 7).Select(_ => GridCluster.NewId()).ToArray(), GridCluster.NewId());
        var prefix = $"bill:{GridCluster.NewId()}";
        var batchesBefore = fixture.Store.Batches;
        // 1,500 appends of 500 bills (each event id three times, from different callers at once), plus two deposits
        // sent straight to the ledger grain in the middle: every event is one entry, whichever path it took.
        var appends = Enumerable.Range(0, 1_500).Select(i => appender.AppendAsync(Bill($"{prefix}:{i % 500}", tenants[i % 500 % 7], farmer, 100 + (i % 500))))
            .Concat(tenants.Take(2).Select(t => fixture.Ledger.AppendAsync(new LedgerAppend($"deposit:{t}:{prefix}", LedgerKinds.Deposit, "operator", $"twin:{t}", 5_000, [new Posting(t, 5_000)]))))
            .ToList();
        var answered = await Task.WhenAll(appends);

        // A refused append fails alone; the ones travelling with it are written.
        var bad = appender.AppendAsync(new LedgerAppend($"{prefix}:unbalanced", LedgerKinds.Bill, "grid", "reservation:1", 10, [new Posting(farmer, 10)]));
        var good = appender.AppendAsync(Note($"{prefix}:good"));
        Assert.Equal(400, (await Assert.ThrowsAsync<GridRequestException>(() => bad)).Status);
        await good;

        var stored = await fixture.Store.ReadAsync(1, int.MaxValue);
        var ours = stored.Where(e => e.EventId.StartsWith(prefix, StringComparison.Ordinal) || e.EventId.EndsWith(prefix, StringComparison.Ordinal)).ToList();
        Assert.Equal(503, ours.Count);
        Assert.Equal(503, ours.Select(e => e.EventId).Distinct().Count());
        Assert.DoesNotContain(ours, e => e.EventId.EndsWith(":unbalanced", StringComparison.Ordinal));
        // Each caller got the stored entry of its event (duplicates the same one).
        var bySeq = stored.ToDictionary(e => e.Seq);
        Assert.All(answered, e => Assert.Equal((bySeq[e.Seq].EventId, bySeq[e.Seq].Hash), (e.EventId, e.Hash)));
        Assert.All(Enumerable.Range(0, 500), i => Assert.Equal(answered[i].Seq, answered[i + 500].Seq));
        // Far fewer group commits than appends (two batches in flight at most, each many entries).
        Assert.InRange(fixture.Store.Batches - batchesBefore, 1, 200);

        // The chain is unbroken, and every account shows exactly the fold of the ledger.
        var prev = LedgerCanonical.GenesisHash;
        foreach (var (entry, i) in stored.Select((e, i) => (e, i)))
        {
            Assert.Equal(i + 1, entry.Seq);
            Assert.Equal(prev, entry.PrevHash);
            Assert.Equal(LedgerCanonical.Hash(entry), entry.Hash);
            prev = entry.Hash;
        }

        var folded = AccountFold.All(stored);
        foreach (var account in tenants.Append(farmer))
        {
            var shown = await fixture.Grid.Grains.GetGrain<IAccountGrain>(account).GetAsync();
            Assert.Equal((folded[account].Balance, folded[account].Spent, folded[account].Earned), (shown.Balance, shown.Spent, shown.Earned));
        }

        Assert.Equal(5_000 - Enumerable.Range(0, 500).Where(i => i % 7 == 0).Sum(i => 100L + i), folded[tenants[0]].Balance);
    }

    [Fact]
    public async Task AFailedWriteFailsTheBatchBehindItAndTheChainIsRelinkedFromTheDurableHead()
    {
        // Batches of 10, so the ledger writes the next batch while the one before it is still in flight.
        var store = new GatedLedgerStore();
        await using var grid = await GridCluster.StartAsync(store, ("Grid:Ledger:MaxBatch", "10"));
        var ledger = grid.Grains.GetGrain<ILedgerGrain>(0);
        await ledger.AppendAsync(Note("warm"));
        store.Hold();
        var first = ledger.AppendAsync(Note("first"));
        await Poll.UntilAsync(() => Task.FromResult(store.Held == 1), TimeSpan.FromSeconds(20), "the first batch is in flight");
        var appends = Enumerable.Range(0, 100).Select(i => ledger.AppendAsync(Note($"pipelined:{i}"))).ToList();
        await Poll.UntilAsync(async () => (await ledger.GetStatusAsync()).Pending >= 101, TimeSpan.FromSeconds(20), "every append waits on the ledger");
        // The write after the first fails half a second in; meanwhile the next batch is written behind it.
        store.FailWrite(1, new IOException("connection lost"), TimeSpan.FromMilliseconds(500));
        store.Release();
        await first;

        var outcomes = await Task.WhenAll(appends.Select(async a =>
        {
            try
            {
                return await a;
            }
            catch (IOException)
            {
                return null;
            }
        }));

        // Only the batch whose write failed is refused (its callers retry); the one written behind it was
        // relinked from the durable head and written again, and nothing of the failed batch is stored.
        Assert.Equal(10, outcomes.Count(o => o is null));
        var stored = await store.ReadAsync(1, int.MaxValue);
        Assert.Equal(92, stored.Count);
        var prev = LedgerCanonical.GenesisHash;
        foreach (var (entry, i) in stored.Select((e, i) => (e, i)))
        {
            Assert.Equal((i + 1, prev, LedgerCanonical.Hash(entry)), (entry.Seq, entry.PrevHash, entry.Hash));
            prev = entry.Hash;
        }

        Assert.All(outcomes.OfType<LedgerEntry>(), e => Assert.Equal(stored[(int)e.Seq - 1].Hash, e.Hash));
        Assert.All(outcomes.Select((o, i) => (o, i)).Where(x => x.o is null), x => Assert.DoesNotContain(stored, e => e.EventId == $"pipelined:{x.i}"));

        // The callers' retries add each refused event once.
        await Task.WhenAll(outcomes.Select((o, i) => (o, i)).Where(x => x.o is null).Select(x => ledger.AppendAsync(Note($"pipelined:{x.i}"))));
        Assert.Equal(102, (await store.ReadAsync(1, int.MaxValue)).Select(e => e.EventId).Distinct().Count());
    }

    [Fact]
    public async Task ABillingBucketListsManyReservationsInOneCallEachOnce()
    {
        // A bucket number no shard drives (they stop at Grid:Billing:Buckets), so nothing bills these ids meanwhile.
        var bucket = fixture.Grid.Grains.GetGrain<IBillingBucketGrain>(1_000_000 + GridCluster.NewId());
        var ids = Enumerable.Range(0, 3_000).Select(i => 7L + i).ToImmutableArray();

        await Task.WhenAll(bucket.AddManyAsync(ids), bucket.AddManyAsync(ids[1_000..]), bucket.AddAsync(ids[0]), bucket.AddAsync(5));

        Assert.Equal(3_001, await bucket.CountAsync());
    }

    [Fact]
    public async Task AnEventIdIsAppendedOnceAlsoAfterTheLedgerReactivates()
    {
        var eventId = $"test:{GridCluster.NewId()}:once";
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => fixture.Ledger.AppendAsync(Note(eventId))));
        Assert.Single(concurrent.Select(e => e.Seq).Distinct());

        await fixture.Ledger.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        await Poll.UntilAsync(async () => (await fixture.Ledger.AppendAsync(Note(eventId))).Hash == concurrent[0].Hash, TimeSpan.FromSeconds(20), "the reactivated ledger answers the stored entry");
        var next = await fixture.Ledger.AppendAsync(Note($"{eventId}:next"));

        var stored = await fixture.Store.ReadAsync(1, int.MaxValue);
        Assert.Single(stored, e => e.EventId == eventId);
        Assert.Equal(stored[(int)next.Seq - 2].Hash, next.PrevHash);
    }

    [Fact]
    public async Task ABillThatDoesNotBalanceIsRefusedAndChangesNothing()
    {
        var head = await fixture.Store.ReadHeadAsync();
        var bill = new LedgerAppend($"bill:{GridCluster.NewId()}:1", LedgerKinds.Bill, "grid", "reservation:1", 100,
            [new Posting(GridCluster.NewId(), -100), new Posting(GridCluster.NewId(), 90)]);

        var refused = await Assert.ThrowsAsync<GridRequestException>(() => fixture.Ledger.AppendAsync(bill));
        Assert.Equal(400, refused.Status);
        Assert.Contains("sum to zero", refused.Message);
        Assert.Equal(head, await fixture.Store.ReadHeadAsync());
    }

    [Fact]
    public async Task AccountsAreTheFoldOfTheirPostings()
    {
        var (tenant, farmer) = (GridCluster.NewId(), GridCluster.NewId());
        var tenantAccount = fixture.Grid.Grains.GetGrain<IAccountGrain>(tenant);
        Assert.Equal(0, (await tenantAccount.GetAsync()).Balance); // active before the money arrives: notified

        await fixture.Ledger.AppendAsync(new LedgerAppend($"deposit:{tenant}:1", LedgerKinds.Deposit, "operator", $"twin:{tenant}", 1_000, [new Posting(tenant, 1_000)]));
        await fixture.Ledger.AppendAsync(new LedgerAppend($"bill:{tenant}:1", LedgerKinds.Bill, "grid", "reservation:1", 600,
            [new Posting(tenant, -600), new Posting(farmer, 540), new Posting(Money.GridAccountId, 60)]));

        Assert.Equal(new AccountInfo(tenant, 400, 600, 0, "USD"), await tenantAccount.GetAsync());
        Assert.Equal(new AccountInfo(farmer, 540, 0, 540, "USD"), await fixture.Grid.Grains.GetGrain<IAccountGrain>(farmer).GetAsync());
        await tenantAccount.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        await Poll.UntilAsync(async () => (await tenantAccount.GetAsync()).Balance == 400, TimeSpan.FromSeconds(20), "a new activation folds the same balance");
        var all = AccountFold.All(await fixture.Store.ReadAsync(1, int.MaxValue));
        Assert.Equal(new AccountTotals(400, 600, 0, all[tenant].LastSeq), all[tenant]);
    }

    [Fact]
    public async Task CheckpointsSignTheDurableHead()
    {
        var prefix = $"test:{GridCluster.NewId()}";
        await Task.WhenAll(Enumerable.Range(0, 25).Select(i => fixture.Ledger.AppendAsync(Note($"{prefix}:{i}"))));

        var entries = await fixture.Store.ReadAsync(1, int.MaxValue);
        var checkpoints = await fixture.Store.ReadCheckpointsAsync(0, int.MaxValue);
        Assert.NotEmpty(checkpoints);
        Assert.All(checkpoints, c =>
        {
            Assert.Equal(entries[(int)c.Seq - 1].Hash, c.Hash);
            Assert.True(LedgerCheckpoints.Verify(c, c.PublicKey));
            Assert.False(LedgerCheckpoints.Verify(c, LedgerCheckpoints.PublicKeyOf(LedgerCheckpoints.NewPrivateKey())));
        });
    }

    [Fact]
    public async Task RegistrationsAreRecorded()
    {
        var twin = GridCluster.NewId();
        await fixture.Grid.Grains.GetGrain<ITwinGrain>(twin).CreateAsync("alice", "hash");
        var farm = await fixture.Grid.CreateFarmAsync(twin, publicIps: 1);
        var node = await fixture.Grid.RegisterNodeAsync(farm, twin, new Capacity(2, 1L << 30, 0, 0));

        var entries = await fixture.Store.FindAsync([$"twin:{twin}:created", $"farm:{farm}:registered", $"node:{node}:registered"]);
        Assert.Equal(3, entries.Count);
        Assert.Contains(entries, e => e.Kind == LedgerKinds.NodeRegistered && e.Details!.Contains($"\"farmId\":{farm}", StringComparison.Ordinal));
        await Poll.UntilAsync(async () => (await fixture.Store.ReadAsync(1, int.MaxValue)).Any(e => e.Kind == LedgerKinds.NodeUp && e.Subject == $"node:{node}"), TimeSpan.FromSeconds(20), "the node's first heartbeat is recorded as node.up");
    }

    /// <summary>A bill of <paramref name="amount"/>: the tenant pays, the farmer gets the floor of 90 %, the grid the rest.</summary>
    private static LedgerAppend Bill(string eventId, long tenant, long farmer, long amount) =>
        new(eventId, LedgerKinds.Bill, "grid", $"reservation:{eventId}", amount,
            [new Posting(tenant, -amount), new Posting(farmer, amount * 9 / 10), new Posting(Money.GridAccountId, amount - (amount * 9 / 10))]);

    private static LedgerAppend Note(string eventId) =>
        new(eventId, "test.note", "test", "test", null, ImmutableArray<Posting>.Empty);
}
