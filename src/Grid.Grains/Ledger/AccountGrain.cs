using Grid.Grains;
using Microsoft.Extensions.Configuration;
using Orleans.Concurrency;

namespace Grid.Ledger;

/// <summary>
/// A twin's account: a cache of the ledger's fold of its postings. It folds from the store on activation and
/// applies the ledger's notifications (sent only for durable entries) when they chain to what it has folded,
/// else folds from the store again — so it never shows money the ledger does not have, also after failovers.
/// Reentrant because the ledger notifies it while a caller of this account may be waiting on the ledger.
/// </summary>
[Reentrant]
public sealed class AccountGrain(ILedgerReader ledger, IConfiguration configuration) : Grain, IAccountGrain
{
    /// <summary>Configuration key of the currency code (owned by billing). Default: USD.</summary>
    public const string CurrencyKey = "Grid:Billing:Currency";

    private AccountTotals _totals = AccountTotals.Empty;

    private long AccountId => this.GetPrimaryKeyLong();

    public override async Task OnActivateAsync(CancellationToken cancellationToken) =>
        _totals = await ledger.FoldAccountAsync(AccountId, cancellationToken);

    public Task<AccountInfo> GetAsync() =>
        Task.FromResult(new AccountInfo(AccountId, _totals.Balance, _totals.Spent, _totals.Earned, configuration[CurrencyKey] ?? "USD"));

    public Task ApplyAsync(AccountPostings postings)
    {
        if (postings.Items.Length > 0 && postings.Items[^1].Seq <= _totals.LastSeq)
        {
            return Task.CompletedTask;
        }

        if (postings.PrevSeq is { } previous && Chain(_totals, previous, postings) is { } totals)
        {
            _totals = totals;
            return Task.CompletedTask;
        }

        return FoldAgainAsync();
    }

    /// <summary>The totals with the postings applied, or null when they do not follow on from what is folded (a gap).</summary>
    private static AccountTotals? Chain(AccountTotals totals, long previous, AccountPostings postings)
    {
        var folded = totals.LastSeq;
        foreach (var item in postings.Items)
        {
            if (item.Seq <= folded)
            {
                previous = item.Seq;
                continue;
            }

            if (item.Seq != previous && previous != totals.LastSeq)
            {
                return null;
            }

            totals = totals.Add(item.Seq, item.Kind, item.Amount);
            previous = item.Seq;
        }

        return totals;
    }

    private async Task FoldAgainAsync()
    {
        var fresh = await ledger.FoldAccountAsync(AccountId);
        // Folds that interleave finish in any order; the store only grows, so the later fold wins.
        if (fresh.LastSeq >= _totals.LastSeq)
        {
            _totals = fresh;
        }
    }
}
