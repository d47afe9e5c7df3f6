using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Grid.Testing;

namespace Grid.Console.Tests;

/// <summary>One span as the host exported it over OTLP.</summary>
public sealed record OtlpSpan(
    string Scope, string TraceId, string SpanId, string ParentSpanId, string Name, IReadOnlyDictionary<string, string> Attributes)
{
    public string? this[string attribute] => Attributes.GetValueOrDefault(attribute);
}

/// <summary>
/// An OTLP/HTTP (protobuf) receiver started by the test: accepts what an exporter posts to <c>/v1/traces</c> (and
/// acknowledges metrics and logs) and decodes the spans by the wire format of
/// <c>opentelemetry/proto/collector/trace/v1</c>; no collector package is involved.
/// </summary>
public sealed class OtlpTraceReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<OtlpSpan> _spans = new();
    private readonly Task _loop;

    public OtlpTraceReceiver()
    {
        var port = FreePort.Get();
        Endpoint = new Uri($"http://127.0.0.1:{port}");
        _listener.Prefixes.Add($"{Endpoint}");
        _listener.Start();
        _loop = Task.Run(AcceptAsync);
    }

    public Uri Endpoint { get; }

    public IReadOnlyList<OtlpSpan> Spans => [.. _spans];

    public void Dispose()
    {
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The listener was closed under a pending accept.
        }
    }

    private async Task AcceptAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception exception) when (exception is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            if (context.Request.Url?.AbsolutePath == "/v1/traces")
            {
                foreach (var span in DecodeTraces(body.ToArray()))
                {
                    _spans.Enqueue(span);
                }
            }

            // An empty Export*ServiceResponse: full success.
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    /// <summary>ExportTraceServiceRequest → ResourceSpans(1) → ScopeSpans(2) → {InstrumentationScope(1), Span(2)}.</summary>
    public static IEnumerable<OtlpSpan> DecodeTraces(byte[] request)
    {
        foreach (var resourceSpans in Messages(request, 1))
        {
            foreach (var scopeSpans in Messages(resourceSpans, 2))
            {
                var scope = Messages(scopeSpans, 1).Select(s => Strings(s, 1).FirstOrDefault()).FirstOrDefault() ?? "";
                foreach (var span in Messages(scopeSpans, 2))
                {
                    yield return DecodeSpan(scope, span);
                }
            }
        }
    }

    /// <summary>Span: trace_id(1), span_id(2), parent_span_id(4), name(5), attributes(9: KeyValue{key(1), AnyValue(2)}).</summary>
    private static OtlpSpan DecodeSpan(string scope, byte[] span)
    {
        string traceId = "", spanId = "", parent = "", name = "";
        var attributes = new Dictionary<string, string>();
        var input = new CodedInputStream(span);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: traceId = Convert.ToHexStringLower(input.ReadBytes().ToByteArray()); break;
                case 2: spanId = Convert.ToHexStringLower(input.ReadBytes().ToByteArray()); break;
                case 4: parent = Convert.ToHexStringLower(input.ReadBytes().ToByteArray()); break;
                case 5: name = input.ReadString(); break;
                case 9:
                    var pair = input.ReadBytes().ToByteArray();
                    var key = Strings(pair, 1).FirstOrDefault();
                    var value = Messages(pair, 2).Select(AnyValue).FirstOrDefault();
                    if (key is not null && value is not null)
                    {
                        attributes[key] = value;
                    }

                    break;
                default: input.SkipLastField(); break;
            }
        }

        return new OtlpSpan(scope, traceId, spanId, parent, name, attributes);
    }

    /// <summary>AnyValue: string(1), bool(2), int64(3), double(4) as text; arrays and maps are skipped.</summary>
    private static string? AnyValue(byte[] value)
    {
        var input = new CodedInputStream(value);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: return input.ReadString();
                case 2: return input.ReadBool() ? "true" : "false";
                case 3: return input.ReadInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
                case 4: return input.ReadDouble().ToString(System.Globalization.CultureInfo.InvariantCulture);
                default: input.SkipLastField(); break;
            }
        }

        return null;
    }

    private static IEnumerable<byte[]> Messages(byte[] message, int field)
    {
        var input = new CodedInputStream(message);
        var found = new List<byte[]>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == field && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                found.Add(input.ReadBytes().ToByteArray());
            }
            else
            {
                input.SkipLastField();
            }
        }

        return found;
    }

    private static IEnumerable<string> Strings(byte[] message, int field) =>
        Messages(message, field).Select(System.Text.Encoding.UTF8.GetString);
}
