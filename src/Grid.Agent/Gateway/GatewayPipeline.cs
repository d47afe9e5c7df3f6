using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Grid.Agent.Gateway;

/// <summary>
/// What the gateway adds to YARP's proxy pipeline for a request whose <c>Host</c> matched a name: byte metering of
/// the name, <c>503</c> with <c>Retry-After</c> when no destination is healthy, passive health (a failed connection
/// or a gateway error answered by a backend takes it out until its next passing probe) and one retry on another
/// healthy destination of an idempotent request without a body whose connection failed.
/// </summary>
/// <param name="meter">Where bytes are counted per name.</param>
/// <param name="prober">Health of the destinations.</param>
internal sealed class GatewayPipeline(TrafficMeter meter, DestinationProber prober)
{
    // The status line of an answer ("HTTP/1.1 200 OK\r\n") and the blank line ending the headers, approximated.
    private const int StatusLineBytes = 17 + 2;

    /// <summary>The middleware: runs the rest of the proxy pipeline (<paramref name="next"/>) once or twice.</summary>
    public async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var proxy = context.GetReverseProxyFeature();
        var name = proxy.Route.Config.RouteId;
        var tally = new RequestTally();
        tally.AddIn(RequestHeadBytes(context.Request));
        context.Request.Body = new MeteredStream(context.Request.Body, tally, ownsInner: false);
        context.Response.Body = new MeteredStream(context.Response.Body, tally, ownsInner: false);
        if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
        {
            context.Features.Set<IHttpUpgradeFeature>(new MeteredUpgrade(upgrade, tally));
        }

        try
        {
            await ForwardAsync(context, proxy, name, next);
        }
        finally
        {
            tally.AddOut(ResponseHeadBytes(context.Response));
            meter.Add(name, tally.In, tally.Out);
        }
    }

    private async Task ForwardAsync(HttpContext context, IReverseProxyFeature proxy, string name, Func<Task> next)
    {
        var candidates = proxy.AvailableDestinations;
        if (candidates.Count == 0)
        {
            await NoHealthyDestinationAsync(context, name);
            return;
        }

        await next();
        if (Failure(context, proxy) is not { } failure)
        {
            return;
        }

        prober.Failed(name, failure.Destination.DestinationId, failure.Destination.Model.Config.Address, failure.Reason);
        if (!failure.ConnectionFailed || context.Response.HasStarted || !Retryable(context.Request))
        {
            return;
        }

        var others = candidates.Where(d => d != failure.Destination).ToList();
        if (others.Count == 0)
        {
            return;
        }

        // The request never reached a backend that answered: it goes once to another healthy destination.
        context.Features.Set<IForwarderErrorFeature?>(null);
        context.Response.Clear();
        proxy.AvailableDestinations = others;
        await next();
        if (Failure(context, proxy) is { } again)
        {
            prober.Failed(name, again.Destination.DestinationId, again.Destination.Model.Config.Address, again.Reason);
        }
    }

    /// <summary>Idempotent methods whose request has no body: nothing of it was consumed by the failed attempt.</summary>
    private static bool Retryable(HttpRequest request) =>
        (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method)
            || HttpMethods.IsPut(request.Method) || HttpMethods.IsDelete(request.Method))
        && request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false };

    /// <summary>How the destination just tried failed, if it did: no connection (or no answer), or a gateway error it answered.</summary>
    private static (DestinationState Destination, string Reason, bool ConnectionFailed)? Failure(HttpContext context, IReverseProxyFeature proxy)
    {
        if (proxy.ProxiedDestination is not { } destination)
        {
            return null;
        }

        if (context.Features.Get<IForwarderErrorFeature>() is { } error)
        {
            return error.Error is ForwarderError.Request or ForwarderError.RequestTimedOut
                ? (destination, $"request failed: {error.Exception?.Message ?? error.Error.ToString()}", true)
                : null;
        }

        // A backend answering 502-504 itself is cut off from what it serves (or is shutting down).
        var status = context.Response.StatusCode;
        return status is >= 502 and <= 504 ? (destination, $"request answered {status}", false) : null;
    }

    private static async Task NoHealthyDestinationAsync(HttpContext context, string name)
    {
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = "1";
        await context.Response.WriteAsJsonAsync(
            new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "No healthy backend",
                Detail = $"No backend of the name '{name}' has passed its health check at this gateway.",
            },
            options: null,
            contentType: "application/problem+json");
    }

    private static long RequestHeadBytes(HttpRequest request)
    {
        // "GET /path?query HTTP/1.1\r\n", each "Name: value\r\n", the blank line.
        long bytes = request.Method.Length + 1 + (request.PathBase.Value?.Length ?? 0) + (request.Path.Value?.Length ?? 0);
        bytes += (request.QueryString.Value?.Length ?? 0) + 1 + request.Protocol.Length + 2 + 2;
        return bytes + HeaderBytes(request.Headers);
    }

    private static long ResponseHeadBytes(HttpResponse response) => StatusLineBytes + HeaderBytes(response.Headers);

    private static long HeaderBytes(IHeaderDictionary headers)
    {
        long bytes = 0;
        foreach (var (key, values) in headers)
        {
            foreach (var value in values)
            {
                bytes += key.Length + 2 + (value?.Length ?? 0) + 2;
            }
        }

        return bytes;
    }

    /// <summary>Counts the bytes of an upgraded connection (WebSockets) both ways.</summary>
    private sealed class MeteredUpgrade(IHttpUpgradeFeature inner, RequestTally tally) : IHttpUpgradeFeature
    {
        public bool IsUpgradableRequest => inner.IsUpgradableRequest;

        public async Task<Stream> UpgradeAsync() => new MeteredStream(await inner.UpgradeAsync(), tally, ownsInner: true);
    }
}
