using System.Globalization;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;

namespace Grid.Host.Tests;

/// <summary>One generated request that must be refused: what it is, and how to send it.</summary>
public sealed record BadRequest(string Kind, string Method, string Path, string? Key, string? Body, string ContentType = "application/json")
{
    /// <summary>Signs the request at <see cref="SignedAt"/> with <see cref="SigningKey"/> when set.</summary>
    public string? SigningKey { get; init; }

    public string? Signer { get; init; }

    public DateTimeOffset SignedAt { get; init; }

    public override string ToString() => $"[{Kind}] {Method} {Path} key={Key?[..Math.Min(8, Key.Length)]} signer={Signer} body={Body?[..Math.Min(300, Body.Length)]}";
}

/// <summary>
/// Generators of requests a grid must refuse without changing anything: wrong types, huge numbers, unicode
/// and control characters, missing fields, other twins' ids, bad routes and expired or forged signatures.
/// </summary>
public sealed class BadRequestGenerators(BadRequestWorld world)
{
    private static readonly string[] s_badNumbers =
    [
        // Wrong for every number field: negative, fractional, overflowing, not a number. (The API reads numbers
        // from strings, so "12" would be valid; null is valid wherever a field is optional.)
        "-1", "-9223372036854775808", "99999999999999999999999", "1e400", "1.5", "-0.0001", "1e30", "NaN", "\"12x<\"", "\"\"", "[]", "{}",
        "-2147483649", "\"-5\"", "9223372036854775808",
    ];

    private static readonly string[] s_forbidden = ["<", ">", "{", "}", "!", "@", "#", "$", "%", "^", "&", "*", "(", ")", "+", "=", "/", "\\\\",
        "\\\"", "'", "\\u0000", "\\u0007", "\\u200b", "😀", "\\ud83d", "\\u202e", "\\n", "\\t", "~", "`", "|", "?", ";", ":", ","];

    private Gen<string> Chars => Gen.Choose(0, 0xFFFF).Where(c => c is < 0xD800 or > 0xDFFF and not '"' and not '\\')
        .Select(c => ((char)c).ToString()).ArrayOf().Select(a => string.Concat(a));

    /// <summary>A JSON string literal that no name validation accepts.</summary>
    private Gen<string> BadNameLiteral => Gen.OneOf(
        Zip3(Chars, Gen.Elements(s_forbidden), Chars).Select(t => Json(t.Item1) [..^1] + t.Item2 + Json(t.Item3)[1..]),
        Gen.Choose(65, 400).Select(n => Json(new string('a', n))),
        Gen.Elements("\"\"", "\"   \"", "\" leading\"", "\"-dash\""));

    /// <summary>A JSON value of the wrong kind or out of range for a number field.</summary>
    private Gen<string> BadNumber => Gen.OneOf(Gen.Elements(s_badNumbers), Gen.Choose(int.MinValue, -1).Select(n => n.ToString(CultureInfo.InvariantCulture)),
        BadNameLiteral);

    /// <summary>Any JSON value that is not a valid object for a nested field.</summary>
    private Gen<string> Junk => Gen.OneOf(BadNumber, BadNameLiteral, Gen.Elements("[1,2,3]", "\"x<\"", "-12", "[false]", Deep(80), "[{\"a\":[{}]}]"));

    private Gen<string> BadResources => Gen.OneOf(
        Gen.Zip(BadNumber, BadNumber).Select(t => $"{{\"cru\":{t.Item1},\"mru\":{t.Item2}}}"),
        Gen.Zip(BadNumber, Gen.Choose(0, 4)).Select(t => $"{{\"cru\":1,\"mru\":1,\"ipv4\":{t.Item1}}}".Replace("\"ipv4\":", t.Item2 == 0 ? "\"sru\":" : "\"ipv4\":", StringComparison.Ordinal)),
        Junk, Gen.Constant("{}"), Gen.Constant("{\"cru\":0,\"mru\":0}"));

    public Gen<BadRequest> Requests => Gen.Frequency(
        (3, Gen.OneOf(BadNameLiteral, Junk, Gen.Constant("null")).Select(n => new BadRequest("twin name", "POST", "/api/v1/twins", null, $"{{\"name\":{n}}}"))),
        (2, Gen.Zip(BadNameLiteral, Junk).Select(t => new BadRequest("farm", "POST", "/api/v1/farms", world.OwnerKey,
            $"{{\"name\":{t.Item1},\"cpuOvercommit\":{t.Item2},\"publicIps\":{t.Item2}}}"))),
        (2, Gen.Zip(BadNumber, Junk).Select(t => new BadRequest("overcommit", "POST", "/api/v1/farms", world.OwnerKey,
            $"{{\"name\":\"ok\",\"cpuOvercommit\":{t.Item1},\"publicIps\":[{{\"ip\":{t.Item2},\"gateway\":\"1.1.1.1\"}}]}}"))),
        (3, Gen.Zip(BadResources, Gen.Elements(world.OwnerFarmId, world.OtherFarmId, -1L, 0L)).Select(t => new BadRequest("node", "POST", "/api/v1/nodes",
            world.OwnerKey, $"{{\"farmId\":{t.Item2},\"resources\":{t.Item1},\"location\":{{\"country\":\"BE\"}}}}"))),
        (1, Gen.Constant(new BadRequest("another twin's farm", "POST", "/api/v1/nodes", world.OwnerKey,
            $"{{\"farmId\":{world.OtherFarmId},\"resources\":{{\"cru\":1,\"mru\":1}},\"location\":{{\"country\":\"BE\"}}}}"))),
        (4, Gen.Zip(BadResources, Junk).Select(t => new BadRequest("reservation", "POST", "/api/v1/reservations", world.OwnerKey,
            $"{{\"resources\":{t.Item1},\"constraints\":{{\"country\":{t.Item2}}}}}"))),
        (2, Gen.Zip(BadNumber, Gen.Elements("farmIds", "nodeId", "antiAffinityGroup", "certified")).Select(t => new BadRequest("constraint", "POST",
            "/api/v1/reservations", world.OwnerKey, $"{{\"resources\":{{\"cru\":1,\"mru\":1}},\"constraints\":{{\"{t.Item2}\":{(t.Item2 == "farmIds" ? $"[{t.Item1}]" : t.Item1)}}}}}"))),
        (3, Zip3(BadNameLiteral, Junk, Gen.Elements("process", "vm", "\"x\"", "7")).Select(t => new BadRequest("workload", "POST",
            $"/api/v1/reservations/{world.OwnerReservationId}/workloads", world.OwnerKey,
            $"{{\"name\":{t.Item1},\"type\":{(t.Item3.StartsWith('"') || t.Item3 == "7" ? t.Item3 : Json(t.Item3))},\"process\":{{\"command\":{t.Item2}}}}}"))),
        (2, Gen.Zip(Junk, Gen.Choose(257, 600)).Select(t => new BadRequest("process", "POST", $"/api/v1/reservations/{world.OwnerReservationId}/workloads",
            world.OwnerKey, $"{{\"name\":\"w\",\"type\":\"process\",\"process\":{{\"command\":\"sh\",\"args\":[{string.Join(',', Enumerable.Repeat("\"a\"", t.Item2))}],\"env\":{t.Item1}}}}}"))),
        (4, Gen.Elements(world.OtherTwinsRequests).Select(r => r with { Kind = "another twin's thing" })),
        (3, Gen.Zip(BadNumber, Junk).Select(t => new BadRequest("heartbeat", "POST", $"/api/v1/nodes/{world.OwnerNodeId}/heartbeat", world.OwnerNodeKey,
            $"{{\"uptime\":{t.Item1},\"workloads\":{t.Item2}}}"))),
        (1, Gen.Constant(new BadRequest("heartbeat as twin", "POST", $"/api/v1/nodes/{world.OwnerNodeId}/heartbeat", world.OwnerKey, "{\"uptime\":1}"))),
        (2, BadNumber.Where(n => n != "null").Select(n => new BadRequest("drain", "POST", $"/api/v1/nodes/{world.OwnerNodeId}/drain", world.OwnerKey,
            $"{{\"maxParallel\":{n}}}"))),
        (2, Gen.Zip(BadNameLiteral, Gen.Elements("[\"operator\"]", "[\"node\"]", "[]", "[1]", "[null]", "\"tenant\"", "[\"tenant\",\"farmer\",\"tenant\"]"))
            .Select(t => new BadRequest("api key", "POST", "/api/v1/keys", world.OwnerKey, $"{{\"name\":{t.Item1},\"roles\":{t.Item2}}}"))),
        (1, Gen.Elements("\"AAAA\"", "\"not base64!\"", "12", "[]", Json(Convert.ToBase64String(new byte[31])), Json(Convert.ToBase64String(new byte[33])))
            .Select(k => new BadRequest("public key", "PUT", "/api/v1/twins/me/public-key", world.OwnerKey, $"{{\"publicKey\":{k}}}"))),
        (2, Zip3(Gen.Elements("GET", "POST", "PUT", "DELETE", "PATCH"), Gen.Elements("farms", "nodes", "reservations", "workloads", "keys", "twins"),
                Gen.Elements("-1", "abc", "99999999999999999999999", "1.5", "%00", "😀", "0x10", "1000000", "..%2f..%2fetc"))
            .Select(t => new BadRequest("route", t.Item1, $"/api/v1/{t.Item2}/{Uri.EscapeDataString(t.Item3)}", world.OwnerKey, t.Item1 is "GET" or "DELETE" ? null : "{}"))),
        (2, Gen.Zip(Junk, Gen.Elements("text/plain", "application/xml", "application/x-www-form-urlencoded")).Select(t =>
            new BadRequest("content type", "POST", "/api/v1/reservations", world.OwnerKey, t.Item1, t.Item2))),
        (2, Gen.Elements("", "{", "{\"resources\":", "nul", "\u0000", "[1,2", "{\"name\":\"x\",}", "{'name':'x'}").Select(b =>
            new BadRequest("malformed JSON", "POST", "/api/v1/farms", world.OwnerKey, b))),
        (3, Gen.Zip(Gen.Choose(180, 7200), Gen.Elements(-1, 1)).Select(t => new BadRequest("expired signature", "GET", "/api/v1/farms", null, null)
        {
            SigningKey = world.OwnerSigningKey,
            Signer = $"twin:{world.OwnerTwinId}",
            SignedAt = DateTimeOffset.UtcNow.AddSeconds(t.Item1 * t.Item2),
        })),
        (1, Gen.Elements("twin:0", "twin:-1", "node:x", "operator:1", "", "twin:99999999999999999999", $"twin:{world.OtherTwinId}").Select(s =>
            new BadRequest("bad signer", "POST", "/api/v1/farms", null, "{\"name\":\"x\"}") { SigningKey = world.OwnerSigningKey, Signer = s, SignedAt = DateTimeOffset.UtcNow })),
        (2, Gen.Elements("gt_1_x", "gn_1_x", "Basic abc", "gt_99999999999999999999_00", world.OwnerKey + "0", "gt_" + new string('9', 300))
            .Select(k => new BadRequest("bad key", "POST", "/api/v1/reservations", k, "{\"resources\":{\"cru\":1,\"mru\":1}}"))),
        (1, Gen.Constant(new BadRequest("huge body", "POST", "/api/v1/farms", world.OwnerKey, $"{{\"name\":\"{new string('x', 1_100_000)}\"}}"))));

    private static string Json(string text) => JsonSerializer.Serialize(text);

    private static Gen<(T1, T2, T3)> Zip3<T1, T2, T3>(Gen<T1> a, Gen<T2> b, Gen<T3> c) =>
        Gen.Zip(a, Gen.Zip(b, c)).Select(t => (t.Item1, t.Item2.Item1, t.Item2.Item2));

    private static string Deep(int depth) => new string('[', depth) + new string(']', depth);
}
