using System.Collections.Immutable;
using Grid.Billing;
using Grid.Client;
using Grid.Grains;
using Grid.Host.Security;
using Grid.Scheduling;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Grid.Host.Api;

/// <summary>Prices, farm price lists, quotes and a reservation's bills.</summary>
public static class PricesApi
{
    private static readonly TimeSpan QuoteDays = TimeSpan.FromDays(30);
    private static readonly TimeSpan MaxEarningsPeriod = TimeSpan.FromDays(400);

    public static RouteGroupBuilder MapPricesApi(this RouteGroupBuilder api)
    {
        var billing = api.MapGroup("").WithTags("Billing");
        billing.MapGet("/prices", GetPrices).WithName("GetPrices").RequireGridRole(GridPolicies.Member)
            .WithSummary("The default price list and every farm's own list (minor units per unit-hour; nu per GB proxied, name per hour held).");
        billing.MapPut("/farms/{farmId:long}/prices", SetFarmPrices).WithName("SetFarmPrices").RequireGridRole(GridPolicies.Farmer)
            .WithSummary("Publish the caller's farm's price list; reservations placed from now on pay it.");
        billing.MapPost("/quotes", CreateQuote).WithName("CreateQuote").RequireGridRole(GridPolicies.Tenant)
            .WithSummary("What a reservation would cost per hour and per 30 days on the node that would be chosen; nothing is placed.");
        billing.MapGet("/reservations/{reservationId:long}/bills", GetBills).WithName("GetReservationBills").RequireGridRole(GridPolicies.Tenant)
            .WithSummary("A reservation's bills, newest first.");
        billing.MapGet("/farms/{farmId:long}/earnings", GetEarnings).WithName("GetFarmEarnings").RequireGridRole(GridPolicies.Farmer)
            .WithSummary("What the farm's nodes earned its farmer in [from, to) (UTC days; default: the last 30), per node and per day.");
        return api;
    }

    public static Ok<PricesInfo> GetPrices(PriceBook book, IOptions<BillingOptions> options) =>
        TypedResults.Ok(new PricesInfo(options.Value.Currency, (int)((Pricing.CertifiedNumerator - Pricing.CertifiedDenominator) * 100 / Pricing.CertifiedDenominator),
            book.Default, book.Set.Farms));

    public static async Task<Results<Ok<FarmPriceList>, ValidationProblem, ProblemHttpResult>> SetFarmPrices(
        long farmId, PriceListRequest body, HttpContext http, IGrainFactory grains, PriceBook book)
    {
        var validation = new Validation();
        var prices = new PriceList(
            validation.Amount("cu", body.Cu, 0, BillingOptions.MaxPrice, required: true),
            validation.Amount("su", body.Su, 0, BillingOptions.MaxPrice, required: true),
            validation.Amount("ipu", body.Ipu, 0, BillingOptions.MaxPrice, required: true),
            // Optional (it came later): without it the farm's gateways carry traffic at the grid's network price.
            body.Nu is null ? null : validation.Amount("nu", body.Nu, 0, BillingOptions.MaxPrice, required: false));
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        var twinId = TwinAuthentication.TwinId(http);
        if (await Ownership.FarmAsync(grains, farmId, twinId) is null)
        {
            return Problems.NotFound($"Farm {farmId}");
        }

        var lists = grains.GetGrain<IPriceListGrain>(0);
        var list = await lists.SetAsync(farmId, twinId, prices);
        // This silo prices with the new list at once; the others within a second.
        if (await lists.GetIfChangedAsync(book.Version) is { } set)
        {
            book.Apply(set);
        }

        return TypedResults.Ok(list);
    }

    public static async Task<Results<Ok<Quote>, ValidationProblem, ProblemHttpResult>> CreateQuote(
        CreateReservationRequest body, HttpContext http, ReservationScheduler scheduler, PriceBook book, IOptions<BillingOptions> options)
    {
        var validation = new Validation();
        var request = ReservationsApi.Request(validation, body, TwinAuthentication.TwinId(http));
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        var (node, report) = await scheduler.ChooseAsync(request);
        if (node is null)
        {
            return Problems.Unplaceable(report!);
        }

        // The quote's price is the whole hour's: the node's capacity and the GPUs (billed on a line of their own).
        var gpuPrice = book.GpuPriceOf(request);
        var price = book.PriceOf(node, request) + gpuPrice;
        return TypedResults.Ok(new Quote(node.NodeId, price, Pricing.PriceFor(price, QuoteDays), options.Value.Currency)
        {
            Spot = request.Spot,
            Priority = request.Priority,
            DistanceKm = request.Constraints.Near is { } near && GreatCircle.DistanceKm(node.Location, near) is { } km ? Math.Round(km, 1) : null,
            GpuPricePerHour = gpuPrice,
        });
    }

    public static async Task<Results<Ok<FarmEarnings>, ValidationProblem, ProblemHttpResult>> GetEarnings(
        long farmId, DateTimeOffset? from, DateTimeOffset? to, HttpContext http, IGrainFactory grains, EarningsIndex earnings, GridClock clock,
        CancellationToken cancellationToken)
    {
        var end = to ?? new DateTimeOffset(clock.UtcNow.UtcDateTime.Date, TimeSpan.Zero).AddDays(1);
        var start = from ?? end.AddDays(-30);
        if (start > end || end - start > MaxEarningsPeriod)
        {
            var validation = new Validation();
            validation.Add("from", $"must be before 'to' and at most {MaxEarningsPeriod.TotalDays} days earlier.");
            return TypedResults.ValidationProblem(validation.Errors);
        }

        if (await Ownership.FarmAsync(grains, farmId, TwinAuthentication.TwinId(http)) is null)
        {
            return Problems.NotFound($"Farm {farmId}");
        }

        return TypedResults.Ok(await earnings.GetAsync(farmId, start, end, cancellationToken));
    }

    public static async Task<Results<Ok<ImmutableArray<Bill>>, ProblemHttpResult>> GetBills(long reservationId, HttpContext http, IGrainFactory grains)
    {
        if (await Ownership.ReservationAsync(grains, reservationId, TwinAuthentication.TwinId(http)) is null)
        {
            return Problems.NotFound($"Reservation {reservationId}");
        }

        return TypedResults.Ok(await grains.GetGrain<IReservationGrain>(reservationId).GetBillsAsync());
    }
}
