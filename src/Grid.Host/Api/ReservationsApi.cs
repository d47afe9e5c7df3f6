using System.Collections.Immutable;
using Grid.Client;
using Grid.Grains;
using Grid.Host.Security;
using Grid.Ids;
using Grid.Reservations;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Grid.Host.Api;

public static class ReservationsApi
{
    public const int MaxIdempotencyKeyLength = 128;
    public const int MaxFarmFilter = 100;
    public const int MaxPageSize = 500;

    public static RouteGroupBuilder MapReservationsApi(this RouteGroupBuilder api)
    {
        var reservations = api.MapGroup("/reservations").WithTags("Reservations").RequireGridRole(GridPolicies.Tenant);
        reservations.MapPost("/", CreateReservation).WithName("CreateReservation")
            .WithSummary("Reserve capacity; answers 201 after the placement is durable, 409 with the reasons when nothing fits.");
        reservations.MapGet("/", ListReservations).WithName("ListReservations").WithSummary("The caller's reservations, newest first.");
        reservations.MapGet("/{reservationId:long}", GetReservation).WithName("GetReservation");
        reservations.MapDelete("/{reservationId:long}", CancelReservation).WithName("CancelReservation")
            .WithSummary("Cancel: frees capacity and IPs; its workloads are deleted.");
        reservations.MapGet("/{reservationId:long}/events", GetEvents).WithName("GetReservationEvents")
            .WithSummary("Placements, moves, failures and cancellation of a reservation.");
        return api;
    }

    public static async Task<Results<Created<ReservationInfo>, ValidationProblem, ProblemHttpResult>> CreateReservation(
        CreateReservationRequest body,
        [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
        HttpContext http,
        IGrainFactory grains,
        IdGenerator ids,
        TwinQuotas quotas,
        ReservationPlacer placer)
    {
        var twinId = TwinAuthentication.TwinId(http);
        var validation = new Validation();
        var request = Request(validation, body, twinId);
        if (idempotencyKey is { } key && (key.Length is 0 or > MaxIdempotencyKeyLength || key.Any(char.IsControl)))
        {
            validation.Add("Idempotency-Key", $"must be 1-{MaxIdempotencyKeyLength} printable characters.");
        }

        if (validation.IsValid && body.SolutionProvider is { } providerId)
        {
            // The share is fixed now: the bills pay what the provider was approved for when the reservation was made.
            var provider = providerId > 0 ? await grains.GetGrain<IProviderRegistryGrain>(0).GetAsync(providerId) : null;
            if (provider is null)
            {
                validation.Add("solutionProvider", $"twin {providerId} is not an approved solution provider.");
            }
            else
            {
                request = request with { SolutionProvider = provider.TwinId, SolutionProviderPpm = provider.SharePpm };
            }
        }

        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        if (await quotas.ReservationRefusalAsync(twinId) is { } refusal)
        {
            return TypedResults.Problem(title: "Quota exceeded", detail: refusal, statusCode: StatusCodes.Status409Conflict);
        }

        ReservationOutcome outcome;
        if (idempotencyKey is null)
        {
            // A fresh id: placed by this silo's placement batcher without activating a reservation grain. The API runs
            // in the silo's process and hands the request to the batcher directly (through a stateless-worker grain,
            // as before, each placement paid a grain call on top, ≈ a fifth of its CPU in memory).
            outcome = await placer.PlaceAsync(await ids.NextAsync(IdKind.Reservation), request);
        }
        else
        {
            try
            {
                outcome = await grains.GetGrain<IIdempotencyGrain>($"{twinId}/{idempotencyKey}").ReserveAsync(request);
            }
            catch (IdempotencyConflictException exception)
            {
                return TypedResults.Problem(title: "Idempotency-Key reused", detail: exception.Message,
                    statusCode: StatusCodes.Status422UnprocessableEntity);
            }
        }

        if (outcome.Reservation is not null)
        {
            quotas.ReservationMade(twinId);
        }

        return outcome.Reservation is { } reservation
            ? TypedResults.Created($"/api/v1/reservations/{reservation.ReservationId}", reservation)
            : Problems.Unplaceable(outcome.Unplaceable!);
    }

    public static async Task<Results<Ok<Page<ReservationInfo>>, ValidationProblem>> ListReservations(
        HttpContext http, IGrainFactory grains, int? page, int? size)
    {
        var validation = new Validation();
        var pageNumber = (int)validation.Amount("page", page ?? 1, 1, int.MaxValue, required: false);
        var pageSize = (int)validation.Amount("size", size ?? 50, 1, MaxPageSize, required: false);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        var twinId = TwinAuthentication.TwinId(http);
        var buckets = await grains.GetGrain<ITwinGrain>(twinId).GetReservationBucketsAsync();
        var ids = (await Task.WhenAll(buckets.Select(b => grains.Bucket(twinId, b).GetAsync()))).SelectMany(b => b).ToList();
        var pageIds = ids.Skip((int)Math.Min((long)(pageNumber - 1) * pageSize, int.MaxValue)).Take(pageSize);
        var infos = await Task.WhenAll(pageIds.Select(id => grains.GetGrain<IReservationGrain>(id).GetAsync()));
        return TypedResults.Ok(new Page<ReservationInfo>([.. infos.OfType<ReservationInfo>()], pageNumber, pageSize, ids.Count));
    }

    public static async Task<Results<Ok<ReservationInfo>, ProblemHttpResult>> GetReservation(
        long reservationId, HttpContext http, IGrainFactory grains)
    {
        var reservation = await Ownership.ReservationAsync(grains, reservationId, TwinAuthentication.TwinId(http));
        return reservation is null ? Problems.NotFound($"Reservation {reservationId}") : TypedResults.Ok(reservation);
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> CancelReservation(
        long reservationId, HttpContext http, IGrainFactory grains)
    {
        if (await Ownership.ReservationAsync(grains, reservationId, TwinAuthentication.TwinId(http)) is null)
        {
            return Problems.NotFound($"Reservation {reservationId}");
        }

        await grains.GetGrain<IReservationGrain>(reservationId).CancelAsync();
        return TypedResults.NoContent();
    }

    public static async Task<Results<Ok<ImmutableArray<ReservationEvent>>, ProblemHttpResult>> GetEvents(
        long reservationId, HttpContext http, IGrainFactory grains)
    {
        if (await Ownership.ReservationAsync(grains, reservationId, TwinAuthentication.TwinId(http)) is null)
        {
            return Problems.NotFound($"Reservation {reservationId}");
        }

        return TypedResults.Ok(await grains.GetGrain<IReservationGrain>(reservationId).GetEventsAsync());
    }

    /// <summary>The reservation a body asks for (also what a quote prices); problems go to <paramref name="validation"/>.</summary>
    public static ReservationRequest Request(Validation validation, CreateReservationRequest body, long twinId)
    {
        var resources = validation.Resources("resources", body.Resources, forNode: false);
        if (validation.IsValid && resources == Capacity.Zero)
        {
            validation.Add("resources", "must ask for some capacity.");
        }

        var priority = (int)validation.Amount("priority", body.Priority, ReservationPriority.Min, ReservationPriority.Max, required: false);
        var constraints = Constraints(validation, body.Constraints);

        // Asking for GPU models asks for a GPU.
        if (!constraints.GpuModels.IsEmpty && resources.Gpu == 0)
        {
            resources = resources with { Gpu = 1 };
        }

        return new ReservationRequest(twinId, resources, constraints, body.Strategy ?? PlacementStrategy.Binpack)
        {
            Priority = body.Priority is null ? ReservationPriority.Default : priority,
            Spot = body.Spot ?? false,
        };
    }

    private static PlacementConstraints Constraints(Validation validation, ConstraintsRequest? body)
    {
        if (body is null)
        {
            return PlacementConstraints.None;
        }

        var farmIds = body.FarmIds ?? [];
        if (farmIds.Length > MaxFarmFilter || farmIds.Any(id => id <= 0))
        {
            validation.Add("constraints.farmIds", $"at most {MaxFarmFilter} positive farm ids.");
        }

        if (body.NodeId is <= 0)
        {
            validation.Add("constraints.nodeId", "must be a positive node id.");
        }

        var features = body.Features ?? [];
        if (features.Length > NodesApi.MaxFeatures || features.Any(f => !NodeFeatures.Known.Contains(f)))
        {
            validation.Add("constraints.features", $"at most {NodesApi.MaxFeatures} of: {string.Join(", ", NodeFeatures.Known)}.");
        }

        return new PlacementConstraints(
            farmIds,
            validation.OptionalName("constraints.country", body.Country),
            body.Certified,
            body.NodeId,
            validation.OptionalName("constraints.antiAffinityGroup", body.AntiAffinityGroup),
            validation.OptionalAmount("constraints.maxPricePerHour", body.MaxPricePerHour, 0, long.MaxValue / 2))
        {
            Features = [.. features.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
            GpuModels = validation.GpuModels("constraints.gpuModels", body.GpuModels),
            Near = validation.Near("constraints.near", body.Near),
        };
    }
}
