using Grid.Client;
using Grid.Grains;
using Grid.Host.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Api;

/// <summary>
/// The public record of activity: ledger entries with their hashes and postings (ids, kinds, amounts; no secrets)
/// and the signed checkpoints, enough for anyone to re-compute the chain (<c>grid ledger verify</c>). Read from this
/// silo's ledger store, never through a grain.
/// </summary>
public static class LedgerApi
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
    public const int MaxCheckpoints = 10_000;

    public static RouteGroupBuilder MapLedgerApi(this RouteGroupBuilder api)
    {
        var ledger = api.MapGroup("/ledger").WithTags("Ledger").AllowPublic();
        ledger.MapGet("/", ListEntries).WithName("ListLedgerEntries")
            .WithSummary("Ledger entries from sequence number 'from' (default 1), at most 'limit' (default 100, max 1000); 'next' is the 'from' of the following page.");
        ledger.MapGet("/checkpoints", ListCheckpoints).WithName("ListLedgerCheckpoints")
            .WithSummary("Signed checkpoints (Ed25519 over the head hash) from sequence number 'from', at most 'limit' (default and max 10000).");
        return api;
    }

    public static async Task<Results<Ok<LedgerPage>, ValidationProblem>> ListEntries(ILedgerReader ledger, long? from, int? limit, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        var start = validation.Amount("from", from ?? 1, 1, long.MaxValue, required: false);
        var count = (int)validation.Amount("limit", limit ?? DefaultLimit, 1, MaxLimit, required: false);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        var entries = await ledger.ReadAsync(start, count, cancellationToken);
        return TypedResults.Ok(new LedgerPage(entries, entries.Count > 0 ? entries[^1].Seq + 1 : start));
    }

    public static async Task<Results<Ok<IReadOnlyList<LedgerCheckpoint>>, ValidationProblem>> ListCheckpoints(
        ILedgerReader ledger, long? from, int? limit, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        var start = validation.Amount("from", from ?? 0, 0, long.MaxValue, required: false);
        var count = (int)validation.Amount("limit", limit ?? MaxCheckpoints, 1, MaxCheckpoints, required: false);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        return TypedResults.Ok(await ledger.ReadCheckpointsAsync(start, count, cancellationToken));
    }
}
