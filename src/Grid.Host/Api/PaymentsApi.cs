using Grid.Billing;
using Grid.Client;
using Grid.Grains;
using Grid.Host.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Grid.Host.Api;

/// <summary>
/// Money in and out, as ledger entries: deposits recorded by the operator (no payment gateway here) and
/// withdrawals of a twin's own balance, never below zero.
/// </summary>
public static class PaymentsApi
{
    /// <summary>Largest single deposit or withdrawal: 10^8 currency units.</summary>
    public const long MaxAmount = 100_000_000 * Money.MinorUnitsPerUnit;

    public static RouteGroupBuilder MapPaymentsApi(this RouteGroupBuilder api)
    {
        api.MapPost("/accounts/{twinId:long}/deposits", Deposit).WithTags("Billing").WithName("Deposit").RequireGridRole(GridPolicies.Operator)
            .WithSummary("Operator only (Authorization: Bearer <operator key>): credit a twin's account; reservations in grace it covers resume.");
        api.MapPost("/account/withdrawals", Withdraw).WithTags("Billing").WithName("Withdraw").RequireGridRole(GridPolicies.Twin)
            .WithSummary("Record a withdrawal of the caller's balance (never below zero).");
        return api;
    }

    public static async Task<Results<Ok<AccountInfo>, ValidationProblem, ProblemHttpResult>> Deposit(
        long twinId, AmountRequest body, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
        IGrainFactory grains)
    {
        var validation = new Validation();
        var amount = validation.Amount("amount", body.Amount, 1, MaxAmount, required: true);
        var eventKey = EventKey(validation, idempotencyKey);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        if (twinId <= 0 || await grains.GetGrain<ITwinGrain>(twinId).GetAsync() is null)
        {
            return Problems.NotFound($"Twin {twinId}");
        }

        await grains.GetGrain<ILedgerGrain>(0).AppendAsync(BillingEvents.Deposit(twinId, eventKey, amount));
        await grains.GetGrain<ITwinBillingGrain>(twinId).ResumeAsync();
        return TypedResults.Ok(await grains.GetGrain<IAccountGrain>(twinId).GetAsync());
    }

    public static async Task<Results<Ok<AccountInfo>, ValidationProblem>> Withdraw(
        AmountRequest body, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, HttpContext http, IGrainFactory grains)
    {
        var validation = new Validation();
        var amount = validation.Amount("amount", body.Amount, 1, MaxAmount, required: true);
        var eventKey = EventKey(validation, idempotencyKey);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        var twinId = TwinAuthentication.TwinId(http);
        return TypedResults.Ok(await grains.GetGrain<ITwinBillingGrain>(twinId).WithdrawAsync(amount, eventKey));
    }

    /// <summary>The event id's key: the client's Idempotency-Key (a retry adds nothing), else a fresh one.</summary>
    private static string EventKey(Validation validation, string? idempotencyKey)
    {
        if (idempotencyKey is { } key && (key.Length is 0 or > ReservationsApi.MaxIdempotencyKeyLength || key.Any(char.IsControl)))
        {
            validation.Add("Idempotency-Key", $"must be 1-{ReservationsApi.MaxIdempotencyKeyLength} printable characters.");
        }

        return idempotencyKey ?? Guid.NewGuid().ToString("N");
    }
}
