using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Grid.Client;

namespace Grid.Host.Api;

/// <summary>
/// Reads one workload report of a heartbeat body member by member. An agent sends every workload it runs in every
/// heartbeat, so a node with 100 workloads sends 100 of these each time: System.Text.Json's general object reader
/// (a property lookup, a frame pushed and a setter called per member) was a quarter of such a heartbeat's CPU.
/// </summary>
/// <remarks>
/// The JSON read is the API's: the names as written are matched first, any other casing as the web defaults allow;
/// a value of another shape than the usual (a number as a string, a null, a wrong type) goes through the serializer
/// for that member, which reads or refuses it exactly as before; unknown members are skipped. Only on the options
/// heartbeat bodies are read with (<see cref="HeartbeatAnswer.Json"/>), never on the API's, so the published schema of
/// the request stays that of the record.
/// </remarks>
public sealed class WorkloadReportReader : JsonConverter<WorkloadReportRequest>
{
    private static readonly (byte[] Name, WorkloadState State)[] States = [.. Enum.GetValues<WorkloadState>()
        .Select(s => (Encoding.UTF8.GetBytes(JsonNamingPolicy.CamelCase.ConvertName(s.ToString())), s))];

    private static readonly string[] Members = ["workloadId", "epoch", "state", "restarts", "message", "reason", "digest", "endpoints", "logs"];
    private static readonly byte[][] Utf8Members = [.. Members.Select(Encoding.UTF8.GetBytes)];

    /// <inheritdoc/>
    public override WorkloadReportRequest Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"A workload report must be a JSON object, not {reader.TokenType}.");
        }

        long? workloadId = null, epoch = null;
        WorkloadState? state = null;
        int? restarts = null;
        string? message = null, reason = null, digest = null, logs = null;
        ImmutableArray<WorkloadEndpoint>? endpoints = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var member = Member(ref reader);
            reader.Read();
            switch (member)
            {
                case 0: workloadId = Int64(ref reader, options); break;
                case 1: epoch = Int64(ref reader, options); break;
                case 2: state = State(ref reader, options); break;
                case 3: restarts = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var count) ? count : JsonSerializer.Deserialize<int?>(ref reader, options); break;
                case 4: message = Text(ref reader, options); break;
                case 5: reason = Text(ref reader, options); break;
                case 6: digest = Text(ref reader, options); break;
                case 7: endpoints = JsonSerializer.Deserialize<ImmutableArray<WorkloadEndpoint>?>(ref reader, options); break;
                case 8: logs = Text(ref reader, options); break;
                default: reader.Skip(); break;
            }
        }

        return new WorkloadReportRequest(workloadId, epoch, state, restarts, message, reason, digest, endpoints, logs);
    }

    /// <summary>Not written by the host; clients write the record itself.</summary>
    public override void Write(Utf8JsonWriter writer, WorkloadReportRequest value, JsonSerializerOptions options) =>
        throw new NotSupportedException("Workload reports are only read with these options.");

    /// <summary>The index of the member in <see cref="Members"/> the reader is on, -1 for one not known.</summary>
    private static int Member(ref Utf8JsonReader reader)
    {
        for (var i = 0; i < Utf8Members.Length; i++)
        {
            if (reader.ValueTextEquals(Utf8Members[i]))
            {
                return i;
            }
        }

        return MemberInAnyCasing(reader.GetString());
    }

    /// <summary>
    /// The web defaults read names in any casing. Apart from <see cref="Member(ref Utf8JsonReader)"/>: a lambda there
    /// made its closure on every call, the usual ones too (13 % of a 100-report heartbeat's allocations).
    /// </summary>
    private static int MemberInAnyCasing(string? name)
    {
        for (var i = 0; i < Members.Length; i++)
        {
            if (string.Equals(Members[i], name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    private static long? Int64(ref Utf8JsonReader reader, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) ? value : JsonSerializer.Deserialize<long?>(ref reader, options);

    private static string? Text(ref Utf8JsonReader reader, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String ? reader.GetString() : JsonSerializer.Deserialize<string?>(ref reader, options);

    private static WorkloadState? State(ref Utf8JsonReader reader, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            foreach (var (name, state) in States)
            {
                if (reader.ValueTextEquals(name))
                {
                    return state;
                }
            }
        }

        return JsonSerializer.Deserialize<WorkloadState?>(ref reader, options);
    }
}
