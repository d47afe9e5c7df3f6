using Grid.Grains;
using Microsoft.Extensions.Configuration;
using Orleans.Concurrency;

namespace Grid.Ledger;

/// <summary>
/// A twin's account: a cache of the ledger's fold of its postings. It folds from the ledger's store on
/// activation and, at each read, folds in what became durable since (on PostgreSQL one query over the account's
/// new index range), so it never shows money the ledger does not have and always shows an acknowledged entry —
/// without the ledger calling every account its entries touch before it answers an append.
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

    public async Task<AccountInfo> GetAsync()
    {
        var fresh = await ledger.FoldAccountAfterAsync(AccountId, _totals);
        // Reads that interleave finish in any order; the store only grows, so the later fold wins.
        if (fresh.LastSeq >= _totals.LastSeq)
        {
            _totals = fresh;
        }

        return new AccountInfo(AccountId, _totals.Balance, _totals.Spent, _totals.Earned, configuration[CurrencyKey] ?? "USD");
    }
}
