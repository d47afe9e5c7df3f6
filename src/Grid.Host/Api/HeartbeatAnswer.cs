using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace Grid.Host.Api;

/// <summary>
/// 200 with a heartbeat's answer, written as <see cref="Ok{TValue}"/> writes it (same JSON, same content type, same
/// OpenAPI description) except that the desired workloads go through <see cref="DesiredJsonConverter"/>. The
/// converter is on this answer's own options, not on the API's: OpenAPI describes a type with a custom converter as
/// "any JSON", and the published schema of every other answer stays as it is.
/// </summary>
/// <param name="value">The node's answer.</param>
public sealed class HeartbeatAnswer(HeartbeatResponse value) : IResult, IEndpointMetadataProvider, IStatusCodeHttpResult, IValueHttpResult<HeartbeatResponse>, IValueHttpResult
{
    /// <summary>The answer.</summary>
    public HeartbeatResponse Value => value;

    object? IValueHttpResult.Value => value;

    /// <inheritdoc/>
    public int? StatusCode => StatusCodes.Status200OK;

    /// <inheritdoc/>
    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = StatusCodes.Status200OK;
        return httpContext.Response.WriteAsJsonAsync(value, httpContext.RequestServices.GetRequiredService<Json>().Options, httpContext.RequestAborted);
    }

    /// <inheritdoc/>
    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) => PopulateAs<Ok<HeartbeatResponse>>(method, builder);

    private static void PopulateAs<T>(MethodInfo method, EndpointBuilder builder) where T : IEndpointMetadataProvider => T.PopulateMetadata(method, builder);

    /// <summary>
    /// The API's JSON options for heartbeats: answers with the <see cref="DesiredJsonConverter"/> (one per host, so one
    /// cache), bodies with the <see cref="WorkloadReportReader"/>.
    /// </summary>
    /// <param name="api">The API's JSON options.</param>
    public sealed class Json(IOptions<JsonOptions> api)
    {
        /// <summary>The options heartbeat answers are written with.</summary>
        public JsonSerializerOptions Options { get; } = Create(api.Value.SerializerOptions, new DesiredJsonConverter());

        /// <summary>The options heartbeat bodies are read with (<see cref="HeartbeatBody"/>).</summary>
        public JsonSerializerOptions Read { get; } = Create(api.Value.SerializerOptions, new WorkloadReportReader());

        private static JsonSerializerOptions Create(JsonSerializerOptions api, JsonConverter converter)
        {
            var options = new JsonSerializerOptions(api);
            options.Converters.Add(converter);
            options.MakeReadOnly(populateMissingResolver: true);
            return options;
        }
    }
}
