using System.Data.Common;
using Grid.Grains;
using Grid.Releases;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Orleans.Runtime;
using Orleans.Storage;

namespace Grid.Host.Hosting;

/// <summary>
/// Maps exceptions to RFC 7807 answers: client mistakes found inside grains to 4xx, transient cluster and
/// storage failures (a silo failing over, PostgreSQL restarting) and calls that met a silo of another release during
/// a rolling upgrade (<see cref="ReleaseMismatch"/>) to 503 with Retry-After — never a 500 for something a retry fixes.
/// </summary>
public sealed partial class GridExceptionHandler(IProblemDetailsService problems, ILogger<GridExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = Classify(exception);
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            http.Response.Headers.RetryAfter = "1";
            LogTransient(logger, exception, exception.GetType().Name, exception.Message);
        }
        else if (status >= 500)
        {
            LogUnexpected(logger, exception);
        }

        http.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }

    public static (int Status, string Title, string Detail) Classify(Exception exception) => exception switch
    {
        GridRequestException e => (e.Status, e.Title, e.Message),
        BadHttpRequestException e => (e.StatusCode, "Bad request",
            e.Message.Contains("no body was provided", StringComparison.Ordinal) ? "A JSON request body is required." : e.Message),
        _ when ReleaseMismatch.Is(exception) => (StatusCodes.Status503ServiceUnavailable, "Service temporarily unavailable",
            "The controller cluster is being upgraded and a silo of another release could not serve this call; retry shortly."),
        _ when IsTransient(exception) => (StatusCodes.Status503ServiceUnavailable, "Service temporarily unavailable",
            "The controller cluster is failing over or its storage is unreachable; retry shortly."),
        _ => (StatusCodes.Status500InternalServerError, "Internal error", "An unexpected error occurred."),
    };

    /// <summary>Failures that a retry after a short wait is expected to fix.</summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        _ when ReleaseMismatch.Is(exception) => true,
        OrleansMessageRejectionException or SiloUnavailableException or TimeoutException or DbException
            or TaskCanceledException => true,
        OrleansException { InnerException: { } inner } => IsTransient(inner),
        AggregateException { InnerException: { } inner } => IsTransient(inner),
        OrleansException e when e.Message.Contains("storage", StringComparison.OrdinalIgnoreCase) => true,
        InconsistentStateException => true,
        _ => exception.InnerException is { } inner && IsTransient(inner),
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Transient failure answered with 503: {Type}: {Message}")]
    private static partial void LogTransient(ILogger logger, Exception exception, string type, string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unexpected failure")]
    private static partial void LogUnexpected(ILogger logger, Exception exception);
}
