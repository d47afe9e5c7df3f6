using System.Buffers;
using System.Reflection;
using System.Text.Json;
using Grid.Client;
using Microsoft.AspNetCore.Http.Features;

namespace Grid.Host.Api;

/// <summary>
/// A heartbeat's body, read whole and then parsed in one synchronous pass with <see cref="WorkloadReportReader"/>.
/// Bound by the endpoint itself instead of by minimal APIs' JSON body binding, which parses while the body arrives:
/// the resumable (async) path of System.Text.Json, over several buffers once the body is bigger than one (a heartbeat
/// with 100 reports is about 6 KB), was a quarter of such a heartbeat's CPU with the general object reader.
/// </summary>
/// <remarks>
/// Refused as minimal APIs refuse a JSON body (and answered the same by <c>GridExceptionHandler</c>): 400 for a missing
/// or empty body, for JSON null and for JSON that does not read as <see cref="HeartbeatRequest"/>; 415 for another
/// content type; Kestrel's body size limit applies while reading (413). OpenAPI describes the body as <see cref="HeartbeatRequest"/>
/// (the endpoint's <c>Accepts</c>).
/// </remarks>
/// <param name="value">The request.</param>
public sealed class HeartbeatBody(HeartbeatRequest value)
{
    /// <summary>The request.</summary>
    public HeartbeatRequest Value => value;

    /// <summary>Reads the body of <paramref name="http"/>'s request (minimal APIs' custom binding).</summary>
    /// <param name="http">The request's context.</param>
    /// <param name="parameter">The endpoint's parameter (its name is in errors, as minimal APIs word them).</param>
    public static async ValueTask<HeartbeatBody?> BindAsync(HttpContext http, ParameterInfo parameter)
    {
        var request = http.Request;
        if (http.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
        {
            throw NoBody(parameter);
        }

        if (!request.HasJsonContentType())
        {
            throw new BadHttpRequestException($"Expected a supported JSON media type but got \"{request.ContentType}\".", StatusCodes.Status415UnsupportedMediaType);
        }

        var options = http.RequestServices.GetRequiredService<HeartbeatAnswer.Json>().Read;
        var reader = request.BodyReader;
        byte[]? copy = null;
        var length = 0;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(http.RequestAborted);
                var buffer = read.Buffer;
                if (read.IsCompleted && copy is null && buffer.IsSingleSegment)
                {
                    // The usual case: the whole body in one buffer, parsed where it lies.
                    try
                    {
                        return Parse(buffer.FirstSpan, options, parameter);
                    }
                    finally
                    {
                        reader.AdvanceTo(buffer.End);
                    }
                }

                if (length + buffer.Length > (copy?.Length ?? 0))
                {
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Max(length + buffer.Length, 2L * (copy?.Length ?? 0)));
                    copy?.AsSpan(0, length).CopyTo(larger);
                    Return(copy);
                    copy = larger;
                }

                buffer.CopyTo(copy.AsSpan(length));
                length += (int)buffer.Length;
                reader.AdvanceTo(buffer.End);
                if (read.IsCompleted)
                {
                    return Parse(copy.AsSpan(0, length), options, parameter);
                }
            }
        }
        finally
        {
            Return(copy);
        }
    }

    private static HeartbeatBody Parse(ReadOnlySpan<byte> json, JsonSerializerOptions options, ParameterInfo parameter)
    {
        if (json.IsEmpty)
        {
            throw NoBody(parameter);
        }

        HeartbeatRequest? request;
        try
        {
            request = JsonSerializer.Deserialize<HeartbeatRequest>(json, options);
        }
        catch (JsonException e)
        {
            throw new BadHttpRequestException($"Failed to read parameter {Named(parameter)} from the request body as JSON.", StatusCodes.Status400BadRequest, e);
        }

        return request is null
            ? throw new BadHttpRequestException($"Required parameter {Named(parameter)} was not provided from body.", StatusCodes.Status400BadRequest)
            : new HeartbeatBody(request);
    }

    /// <summary>As minimal APIs word it (<c>GridExceptionHandler</c> answers "A JSON request body is required.").</summary>
    private static BadHttpRequestException NoBody(ParameterInfo parameter) =>
        new($"Implicit body inferred for parameter {Named(parameter)} but no body was provided.", StatusCodes.Status400BadRequest);

    /// <summary>The parameter as minimal APIs name it in errors; made only for an error, never per heartbeat.</summary>
    private static string Named(ParameterInfo parameter) => $"\"{nameof(HeartbeatRequest)} {parameter.Name}\"";

    private static void Return(byte[]? rented)
    {
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
