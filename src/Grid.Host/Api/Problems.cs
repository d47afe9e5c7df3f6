using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Api;

/// <summary>RFC 7807 answers used by the handlers.</summary>
public static class Problems
{
    public static ProblemHttpResult NotFound(string what) =>
        TypedResults.Problem(title: "Not found", detail: $"{what} was not found.", statusCode: StatusCodes.Status404NotFound);

    public static ProblemHttpResult Unauthorized(string detail) =>
        TypedResults.Problem(title: "Unauthorized", detail: detail, statusCode: StatusCodes.Status401Unauthorized);

    public static ProblemHttpResult Conflict(string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: StatusCodes.Status409Conflict);

    /// <summary>The 409 for a reservation nothing fits, with the per-filter counts as an extension.</summary>
    public static ProblemHttpResult Unplaceable(PlacementReport report) =>
        TypedResults.Problem(
            title: "No node fits the reservation",
            detail: report.Describe(),
            statusCode: StatusCodes.Status409Conflict,
            extensions: new Dictionary<string, object?>
            {
                ["totalNodes"] = report.TotalNodes,
                ["rejections"] = report.Rejections,
                ["maxKm"] = report.MaxKm,
                ["nearestFittingKm"] = report.NearestFittingKm is { } km ? Math.Round(km, 1) : null,
            });
}
