using System.Globalization;
using System.Net;
using Grid.Grains;
using Grid.Hosting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Grid.Host.Security;

/// <summary>Request limits and per-twin quotas, bound from <c>Grid:Limits</c>. Defaults leave the demo and benches alone.</summary>
public sealed class GridLimitsOptions
{
    public const string Section = "Grid:Limits";

    /// <summary>Largest request body; a larger one is answered 413. Default: 1 MiB.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1 << 20;

    /// <summary>Whether requests are rate-limited at all. Default: true.</summary>
    public bool RateLimiting { get; set; } = true;

    /// <summary>Requests per second a signed-in twin (or node, or the operator) may sustain. Default: 1,000.</summary>
    public int TwinRequestsPerSecond { get; set; } = 1_000;

    /// <summary>Requests a signed-in caller may send at once above its rate. Default: 2,000.</summary>
    public int TwinBurst { get; set; } = 2_000;

    /// <summary>Requests per second from one IP address without valid credentials. Default: 50.</summary>
    public int AnonymousRequestsPerSecondPerIp { get; set; } = 50;

    /// <summary>Anonymous requests one IP address may send at once above its rate. Default: 500.</summary>
    public int AnonymousBurstPerIp { get; set; } = 500;

    /// <summary>
    /// Failed authentications (a wrong or revoked key, a signature that does not verify, an expired or replayed one) an IP
    /// address may sustain per minute before it counts as failing. Checking credentials costs the controller (a signature
    /// ≈ 64 µs of CPU, a signed body's hash, an unknown key's lookup) and comes before the rate limit, which needs to know
    /// the caller; only failures count. Default: 600 (10 a second).
    /// </summary>
    public int FailedAuthenticationsPerMinutePerIp { get; set; } = 600;

    /// <summary>Failed authentications one IP address may have at once above its rate. Default: 200.</summary>
    public int FailedAuthenticationBurstPerIp { get; set; } = 200;

    /// <summary>
    /// Credentials checked per minute from an IP address while it counts as failing; beyond that they are answered 429
    /// with <c>Retry-After</c> without being checked. The callers behind the address that prove who they are keep being
    /// served up to this rate (an agent heartbeats every 3 s: 6,000 a minute is enough for 300 of them behind one
    /// address), and one that keeps sending wrong credentials costs at most this many checks. Default: 6,000 (100 a second).
    /// </summary>
    public int ChecksPerMinutePerFailingIp { get; set; } = 6_000;

    /// <summary>Reservations a twin may hold (cancelled ones do not count; checked against a count at most 5 s old). Default: 1,000,000.</summary>
    public int MaxReservationsPerTwin { get; set; } = 1_000_000;

    /// <summary>Workloads one reservation may hold. Default: 1,000.</summary>
    public int MaxWorkloadsPerReservation { get; set; } = 1_000;
}

/// <summary>Rate limits (token buckets, <see cref="GridRateLimiter"/>) per twin, node or operator, and per IP for anonymous callers.</summary>
public static class GridLimits
{
    public static WebApplicationBuilder AddGridLimits(this WebApplicationBuilder builder)
    {
        var limits = builder.Configuration.GetSection(GridLimitsOptions.Section).Get<GridLimitsOptions>() ?? new GridLimitsOptions();
        builder.Services.AddGridSettings<GridLimitsOptions, GridLimitsOptionsValidator>(GridLimitsOptions.Section);
        builder.Services.AddSingleton<TwinQuotas>();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = limits.MaxRequestBodyBytes);
        builder.Services.Configure<GridAuthenticationOptions>(GridAuthenticationHandler.SchemeName, o => o.MaxSignedBodyBytes = limits.MaxRequestBodyBytes);
        // The grid's limiter is a service of the app, and keeps no timer: ASP.NET Core's rate-limiting middleware
        // (UseRateLimiter) was not used for it, as it makes a limiter of its own whose timer it never stops
        // (dotnet/aspnetcore#66434), and that timer kept every stopped app reachable — its grid, its services, every
        // reservation it had placed (a process that hosts grids one after another, as the tests and the bench do, kept
        // them all: 160 MiB after the bench's HTTP placement case). Nor System.Threading.RateLimiting's partitioned
        // limiter: its timer refills every caller's bucket, idle or not (see GridRateLimiter).
        builder.Services.AddSingleton(new GridRateLimiter(TimeProvider.System));
        return builder;
    }

    /// <summary>
    /// Every request takes a token from its caller's bucket before authorization; a caller over its limit is answered
    /// 429 with <c>Retry-After</c> and a problem, and goes no further.
    /// </summary>
    public static IApplicationBuilder UseGridRateLimiting(this IApplicationBuilder app)
    {
        var limiter = app.ApplicationServices.GetRequiredService<GridRateLimiter>();
        var limits = app.ApplicationServices.GetRequiredService<IOptions<GridLimitsOptions>>().Value;
        if (!limits.RateLimiting)
        {
            return app;
        }

        return app.Use(async (http, next) =>
        {
            var caller = CallerOf(http);
            var (perSecond, burst) = caller.Kind == GridRateLimiter.CallerKind.Ip
                ? (limits.AnonymousRequestsPerSecondPerIp, limits.AnonymousBurstPerIp)
                : (limits.TwinRequestsPerSecond, limits.TwinBurst);
            if (!limiter.TryAcquire(caller, perSecond, burst, out var retryAfter))
            {
                await RejectAsync(http, retryAfter);
                return;
            }

            await next(http);
        });
    }

    /// <summary>Whose bucket a request takes from: the twin, node or operator it signed in as, else its address.</summary>
    private static GridRateLimiter.Caller CallerOf(HttpContext http)
    {
        var user = http.User;
        return user.Id(GridClaims.TwinId) is { } twin ? new(GridRateLimiter.CallerKind.Twin, twin, null)
            : user.Id(GridClaims.NodeId) is { } node ? new(GridRateLimiter.CallerKind.Node, node, null)
            : user.Identity?.IsAuthenticated == true ? new(GridRateLimiter.CallerKind.Operator, 0, null)
            : new(GridRateLimiter.CallerKind.Ip, 0, http.Connection.RemoteIpAddress ?? IPAddress.None);
    }

    private static Task RejectAsync(HttpContext http, TimeSpan wait)
    {
        var retryAfter = GridRateLimiter.RetryAfterSeconds(wait);
        return TooManyRequestsAsync(http, retryAfter, "Too many requests", $"The rate limit of this caller is exceeded; retry after {retryAfter} s.");
    }

    /// <summary>Answers 429 with <c>Retry-After</c> (whole seconds) and a problem: the limiter's refusals and the authentication's.</summary>
    internal static async Task TooManyRequestsAsync(HttpContext http, int retryAfterSeconds, string title, string detail)
    {
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails { Status = StatusCodes.Status429TooManyRequests, Title = title, Detail = detail },
        });
    }
}

/// <summary>Per-twin quotas checked before work is done; counts are cached per silo for a few seconds.</summary>
public sealed class TwinQuotas(IGrainFactory grains, IOptionsMonitor<GridLimitsOptions> limits, GridClock clock, Grid.Proxy.IProxyReadStore contracts)
{
    private static readonly TimeSpan s_cacheFor = TimeSpan.FromSeconds(5);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, (int Count, DateTimeOffset Until)> _reservations = new();

    /// <summary>Why the twin may not make another reservation, or null when it may.</summary>
    public async ValueTask<string?> ReservationRefusalAsync(long twinId)
    {
        var max = limits.CurrentValue.MaxReservationsPerTwin;
        var now = clock.UtcNow;
        if (!_reservations.TryGetValue(twinId, out var known) || known.Until <= now)
        {
            // A bucket holds at most BucketSize ids, so a twin far below its quota is judged by its bucket count alone.
            var buckets = await grains.GetGrain<ITwinGrain>(twinId).GetReservationBucketsAsync();
            var count = 0;
            if ((long)(buckets.Length + 1) * TwinReservations.BucketSize >= max)
            {
                foreach (var bucket in buckets)
                {
                    count += (await grains.Bucket(twinId, bucket).GetAsync()).Length;
                }

                // Cancelled reservations no longer count: the ledger's read model knows which (within a second).
                count -= await contracts.DeletedContractsAsync(twinId, CancellationToken.None);
            }

            known = (count, now + s_cacheFor);
            _reservations[twinId] = known;
        }

        return known.Count >= max ? $"The twin holds {known.Count} reservations; its quota (Grid:Limits:MaxReservationsPerTwin) is {max}." : null;
    }

    /// <summary>Counts a reservation just made, so this silo enforces the quota exactly between refreshes.</summary>
    public void ReservationMade(long twinId) =>
        _reservations.AddOrUpdate(twinId, _ => (1, DateTimeOffset.MinValue), (_, known) => (known.Count + 1, known.Until));

    /// <summary>Why the reservation may not hold another workload, or null when it may.</summary>
    public string? WorkloadRefusal(ReservationInfo reservation)
    {
        var max = limits.CurrentValue.MaxWorkloadsPerReservation;
        return reservation.WorkloadIds.Length >= max
            ? $"Reservation {reservation.ReservationId} holds {reservation.WorkloadIds.Length} workloads; the quota (Grid:Limits:MaxWorkloadsPerReservation) is {max}."
            : null;
    }
}
