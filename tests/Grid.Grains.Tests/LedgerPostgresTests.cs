using System.Collections.Immutable;
using Grid.Storage;
using Grid.Testing;
using Orleans.Core.Internal;

namespace Grid.Grains.Tests;

/// <summary>The ledger grain on a real throwaway PostgreSQL: idempotent across activations, never forked by a second writer.</summary>
public sealed class LedgerPostgresTests
{
    [Fact]
    public async Task AppendsStayIdempotentAfterAReactivationAndASecondWriterNeverForksTheChain()
    {
        await using var server = await PostgresServer.StartNewAsync();
        var database = await server.CreateDatabaseAsync("grid_ledger_grain");
        await PostgresSchema.ApplyAsync(database);
        var store = new PostgresLedgerStore(database);
        await using var grid = await GridCluster.StartAsync(store);
        var ledger = grid.Grains.GetGrain<ILedgerGrain>(0);
        var (tenant, farmer) = (GridCluster.NewId(), GridCluster.NewId());

        var deposit = await ledger.AppendAsync(new LedgerAppend($"deposit:{tenant}:1", LedgerKinds.Deposit, "operator", $"twin:{tenant}", 500, [new Posting(tenant, 500)]));
        await ledger.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        await Poll.UntilAsync(async () => (await ledger.AppendAsync(new LedgerAppend($"deposit:{tenant}:1", LedgerKinds.Deposit, "operator", $"twin:{tenant}", 500, [new Posting(tenant, 500)]))).Hash == deposit.Hash, TimeSpan.FromSeconds(20),
            "the new activation answers the stored deposit");

        // Another writer (a duplicate activation after a failover) takes the next sequence number behind the grain's back.
        var head = await store.ReadHeadAsync();
        var stray = LedgerCanonical.Link(head.Seq + 1, head.Hash, DateTimeOffset.UtcNow, Note("stray"));
        await store.AppendAsync([stray]);
        await Assert.ThrowsAsync<LedgerConflictException>(() => store.AppendAsync([stray]));

        var bill = await ledger.AppendAsync(new LedgerAppend($"bill:{tenant}:1", LedgerKinds.Bill, "grid", "reservation:1", 300,
            [new Posting(tenant, -300), new Posting(farmer, 270), new Posting(Money.GridAccountId, 30)]));
        Assert.Equal(stray.Seq + 1, bill.Seq);
        Assert.Equal(stray.Hash, bill.PrevHash);

        var verification = new LedgerVerification(await store.ReadCheckpointsAsync(0, 100), null);
        Assert.All(await store.ReadAsync(1, 100), e => Assert.True(verification.Add(e), verification.Problem));
        Assert.Equal(new AccountInfo(tenant, 200, 300, 0, "USD"), await grid.Grains.GetGrain<IAccountGrain>(tenant).GetAsync());
        Assert.Equal(new AccountTotals(270, 0, 270, bill.Seq), await store.FoldAccountAsync(farmer));
        var transactions = await store.ReadAccountAsync(tenant, 0, 10);
        Assert.Equal([(bill.Seq, -300L), (deposit.Seq, 500L)], transactions.Select(t => (t.Entry.Seq, t.Amount)));
    }

    private static LedgerAppend Note(string eventId) => new(eventId, "test.note", "test", "test", null, ImmutableArray<Posting>.Empty);
}
