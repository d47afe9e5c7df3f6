using Grid.Client;
using Grid.Grains;
using Grid.Host.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Api;

/// <summary>The caller's account (folded from the ledger) and the ledger entries that moved its money.</summary>
public static class AccountApi
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;

    public static RouteGroupBuilder MapAccountApi(this RouteGroupBuilder api)
    {
        var account = api.MapGroup("/account").WithTags("Accounts").RequireGridRole(GridPolicies.Twin);
        account.MapGet("/", GetAccount).WithName("GetAccount")
            .WithSummary("The caller's balance, spent and earned (minor units, 10^7 per currency unit), as the ledger says.");
        account.MapGet("/transactions", ListTransactions).WithName("ListAccountTransactions")
            .WithSummary("The ledger entries that posted to the caller's account, newest first, with the amount posted ('posting').");
        return api;
    }

    public static async Task<Ok<AccountInfo>> GetAccount(HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<IAccountGrain>(TwinAuthentication.TwinId(http)).GetAsync());

    public static async Task<Results<Ok<TransactionPage>, ValidationProblem>> ListTransactions(
        HttpContext http, ILedgerReader ledger, int? page, int? size, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        var pageNumber = (int)validation.Amount("page", page ?? 1, 1, int.MaxValue, required: false);
        var pageSize = (int)validation.Amount("size", size ?? DefaultPageSize, 1, MaxPageSize, required: false);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        var skip = (int)Math.Min((long)(pageNumber - 1) * pageSize, int.MaxValue);
        var items = await ledger.ReadAccountAsync(TwinAuthentication.TwinId(http), skip, pageSize, cancellationToken);
        return TypedResults.Ok(new TransactionPage(
            [.. items.Select(t => new AccountTransactionView(t.Entry.Seq, t.Entry.At, t.Entry.Kind, t.Entry.EventId, t.Entry.Actor, t.Entry.Subject, t.Entry.Amount, t.Amount, t.Entry.Hash))],
            pageNumber, pageSize));
    }
}
