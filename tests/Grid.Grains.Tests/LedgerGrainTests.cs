using System.Collections.Immutable;
using Grid.Ledger;
using Orleans.Core.Internal;

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
        await GridCluster.UntilAsync(() => Task.FromResult(fixture.Store.Held == 1), "the first batch is in flight");
        var before = fixture.Store.Batches;
        var waiting = Enumerable.Range(0, 300).Select(i => fixture.Ledger.AppendAsync(Note($"{prefix}:{i}"))).ToList();
        await GridCluster.UntilAsync(async () => (await fixture.Ledger.GetStatusAsync()).Pending >= 301, "every append waits on the ledger");
        Assert.False(first.IsCompleted);
        fixture.Store.Release();

        await Task.WhenAll(waiting.Append(first));
        // The first batch, then one for all 300 (a stray node.up of another test may add one).
        Assert.InRange(fixture.Store.Batches - before, 2, 3);
    }

    [Fact]
    public async Task AnEventIdIsAppendedOnceAlsoAfterTheLedgerReactivates()
    {
        var eventId = $"test:{GridCluster.NewId()}:once";
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => fixture.Ledger.AppendAsync(Note(eventId))));
        Assert.Single(concurrent.Select(e => e.Seq).Distinct());

        await fixture.Ledger.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        await GridCluster.UntilAsync(async () => (await fixture.Ledger.AppendAsync(Note(eventId))).Hash == concurrent[0].Hash, "the reactivated ledger answers the stored entry");
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
        await GridCluster.UntilAsync(async () => (await tenantAccount.GetAsync()).Balance == 400, "a new activation folds the same balance");
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
        await GridCluster.UntilAsync(async () => (await fixture.Store.ReadAsync(1, int.MaxValue)).Any(e => e.Kind == LedgerKinds.NodeUp && e.Subject == $"node:{node}"), "the node's first heartbeat is recorded as node.up");
    }

    private static LedgerAppend Note(string eventId) =>
        new(eventId, "test.note", "test", "test", null, ImmutableArray<Posting>.Empty);
}
