using System.Buffers;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using Grid.Host.Api;
using Grid.Security;
using Grid.Twins;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Grid.Host.Security;

/// <summary>Settings of the grid's authentication scheme.</summary>
public sealed class GridAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>The operator's bearer key (<c>Grid:Billing:OperatorKey</c>); null or empty: no operator can sign in. Default: none.</summary>
    public string? OperatorKey { get; set; }

    /// <summary>How old (or how far ahead) a signed request's time may be. Default: 1 minute.</summary>
    public TimeSpan SignatureWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Largest body a signed request may carry (it is hashed before the endpoint runs). Default: 1 MiB.</summary>
    public long MaxSignedBodyBytes { get; set; } = 1 << 20;
}

/// <summary>
/// Turns a request's credentials into claims: <c>Authorization: Bearer</c> with a twin API key (twin id, the
/// key's roles), a node key (node) or the operator key (operator), or the <see cref="RequestSignature"/>
/// headers of a twin or node that registered an Ed25519 key. A request without credentials is anonymous;
/// wrong credentials fail with the reason, which the 401 ProblemDetails carries.
/// </summary>
public sealed class GridAuthenticationHandler(
    IOptionsMonitor<GridAuthenticationOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    GridCredentials credentials,
    IProblemDetailsService problems,
    GridRateLimiter limiter,
    IOptionsMonitor<GridLimitsOptions> limitsMonitor) : AuthenticationHandler<GridAuthenticationOptions>(options, logger, encoder)
{
    public const string SchemeName = "Grid";

    /// <summary>Where a request refused for its address's failed authentications keeps its wait (seconds) for the challenge.</summary>
    private static readonly object TooManyFailuresKey = new();

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var signed = Request.Headers.ContainsKey(RequestSignature.SignatureHeader);
        var bearer = signed ? null : TwinAuthentication.BearerToken(Context);
        if (!signed && bearer is not { Length: > 0 })
        {
            return AuthenticateResult.NoResult();
        }

        // Checking is the expensive part (a signature, a signed body's hash, an unknown key's lookup), and it comes
        // before the rate limiter, which needs to know who the caller is. An address whose credentials keep failing (its
        // budget of failures spent) has them checked at a bounded rate only; beyond it they are refused unchecked. Only
        // failures spend the budget, so addresses whose callers prove who they are never get there.
        var limits = limitsMonitor.CurrentValue;
        var address = Context.Connection.RemoteIpAddress ?? IPAddress.None;
        var failures = new GridRateLimiter.Caller(GridRateLimiter.CallerKind.FailedAuthentication, 0, address);
        var failuresPerSecond = limits.FailedAuthenticationsPerMinutePerIp / 60.0;
        if (limits.RateLimiting && limiter.IsEmpty(failures, failuresPerSecond, limits.FailedAuthenticationBurstPerIp, out _))
        {
            var checks = failures with { Kind = GridRateLimiter.CallerKind.FailingIpCheck };
            var checksPerSecond = limits.ChecksPerMinutePerFailingIp / 60.0;
            if (!limiter.TryAcquire(checks, checksPerSecond, (int)Math.Max(1, Math.Ceiling(checksPerSecond)), out var retryAfter))
            {
                var seconds = GridRateLimiter.RetryAfterSeconds(retryAfter);
                Context.Items[TooManyFailuresKey] = seconds;
                return AuthenticateResult.Fail(
                    $"Too many failed authentications from {GridRateLimiter.Describe(failures.Address!)}: while they keep failing, its credentials are checked "
                    + $"{limits.ChecksPerMinutePerFailingIp} times a minute at most, and this request's were not; retry after {seconds} s.");
            }
        }

        var result = signed ? await SignedAsync() : await BearerAsync(bearer!);
        if (result.Failure is not null && limits.RateLimiting)
        {
            limiter.TryAcquire(failures, failuresPerSecond, limits.FailedAuthenticationBurstPerIp, out _);
        }

        return result;
    }

    private async Task<AuthenticateResult> BearerAsync(string key)
    {
        if (key.StartsWith(KeyHash.TwinPrefix + "_", StringComparison.Ordinal))
        {
            return await credentials.TwinKeyAsync(key) is { } twin
                ? Success(twin.Principal)
                : AuthenticateResult.Fail("The API key is not valid (unknown or revoked).");
        }

        if (KeyHash.TryParseId(key, KeyHash.NodePrefix, out var nodeId))
        {
            return await credentials.NodeKeyAsync(nodeId, key)
                ? Success(GridClaims.Principal("nodeKey", [GridRoles.Node], (GridClaims.NodeId, nodeId)))
                : AuthenticateResult.Fail($"The node key is not valid for node {nodeId}.");
        }

        return Options.OperatorKey is { Length: > 0 } operatorKey && KeyHash.FixedTimeEquals(KeyHash.Hash(operatorKey), KeyHash.Hash(key))
            ? Success(GridClaims.Principal("operatorKey", [GridRoles.Operator]))
            : AuthenticateResult.Fail("The bearer key is not valid.");
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        if (Context.Items.TryGetValue(TooManyFailuresKey, out var wait) && wait is int seconds)
        {
            await GridLimits.TooManyRequestsAsync(Context, seconds, "Too many failed authentications", result.Failure!.Message);
            return;
        }

        Response.Headers.WWWAuthenticate = "Bearer";
        await WriteProblemAsync(StatusCodes.Status401Unauthorized, "Unauthorized", result.Failure?.Message
            ?? "Credentials are required: Authorization: Bearer <apiKey>, or a request signed with the twin's Ed25519 key (X-Grid-Signature).");
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var needed = Context.GetEndpoint()?.Metadata.GetMetadata<GridAccess>()?.Roles ?? [];
        await WriteProblemAsync(StatusCodes.Status403Forbidden, "Forbidden",
            $"This endpoint needs the role {string.Join(" or ", needed)}; the credentials used do not carry it.");
    }

    private async Task<AuthenticateResult> SignedAsync()
    {
        var headers = Request.Headers;
        var parts = headers[RequestSignature.SignerHeader].ToString().Split(':');
        if (parts is not [var kind and (SignerKind.Twin or SignerKind.Node), var idText]
            || !long.TryParse(idText, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id <= 0)
        {
            return AuthenticateResult.Fail($"{RequestSignature.SignerHeader} must be twin:<id> or node:<id>.");
        }

        // One spelling (SignerKind.Name): "twin:042" must use up the nonces of "twin:42", or a captured request could be
        // replayed once per spelling of its signer within its window.
        var signer = SignerKind.Name(kind, id);

        if (!long.TryParse(headers[RequestSignature.TimeHeader], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var unixSeconds))
        {
            return AuthenticateResult.Fail($"{RequestSignature.TimeHeader} must be the signing time in Unix seconds.");
        }

        var age = TimeProvider.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(unixSeconds, -62135596800L, 253402300799L));
        if (age.Duration() > Options.SignatureWindow)
        {
            return AuthenticateResult.Fail(
                $"The signature has expired: signed {(long)age.TotalSeconds} s from now; at most {(long)Options.SignatureWindow.TotalSeconds} s is accepted.");
        }

        var nonce = headers[RequestSignature.NonceHeader].ToString();
        if (nonce.Length is 0 or > RequestSignature.MaxNonceLength || nonce.Any(char.IsControl))
        {
            return AuthenticateResult.Fail($"{RequestSignature.NonceHeader} must be 1-{RequestSignature.MaxNonceLength} printable characters, new for every request.");
        }

        var bodyHash = await BodyHashAsync();
        if (bodyHash is null)
        {
            return AuthenticateResult.Fail($"A signed request's body may be at most {Options.MaxSignedBodyBytes} bytes.");
        }

        if (!string.Equals(headers[RequestSignature.ContentHashHeader], bodyHash, StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.Fail($"{RequestSignature.ContentHashHeader} does not match the body's SHA-256.");
        }

        if (await credentials.PublicKeyAsync(signer, kind, id) is not { } publicKey)
        {
            return AuthenticateResult.Fail($"{signer} has no registered Ed25519 public key.");
        }

        var canonical = RequestSignature.Canonical(Request.Method, PathAndQuery(), bodyHash, unixSeconds, nonce);
        if (publicKey.Imported is not { } key || !RequestSignature.Verify(key, canonical, headers[RequestSignature.SignatureHeader].ToString()))
        {
            return AuthenticateResult.Fail($"The signature does not verify with the public key of {signer}.");
        }

        // Checked last, so only a genuine signature uses up a nonce.
        if (!await credentials.TryUseNonceAsync(signer, nonce, DateTimeOffset.FromUnixTimeSeconds(unixSeconds) + Options.SignatureWindow * 2))
        {
            return AuthenticateResult.Fail("The nonce was already used: a replayed request.");
        }

        return Success(kind == SignerKind.Twin
            ? GridClaims.Principal("signature", GridRoles.TwinRoles, (GridClaims.TwinId, id))
            : GridClaims.Principal("signature", [GridRoles.Node], (GridClaims.NodeId, id)));
    }

    /// <summary>The target exactly as the client sent it, which is what it signed.</summary>
    private string PathAndQuery() =>
        Context.Features.Get<IHttpRequestFeature>()?.RawTarget is { Length: > 0 } raw && raw.StartsWith('/')
            ? raw
            : $"{Request.PathBase}{Request.Path}{Request.QueryString}";

    /// <summary>
    /// Largest body hashed where it lies in the server's request pipe (examined, not consumed, so the endpoint reads it
    /// again from there). Well under what the pipe holds before it stops reading the socket (Kestrel's
    /// <c>MaxRequestBufferSize</c>, 1 MiB by default; 64 KiB for an in-memory test server's pipe), so waiting for the
    /// whole body there cannot stall. Larger bodies are copied to a rewindable buffer instead.
    /// </summary>
    internal const long InPipeBodyBytes = 16 * 1024;

    /// <summary>SHA-256 of the body, leaving the body readable for the endpoint; null when it is too large.</summary>
    private async Task<string?> BodyHashAsync()
    {
        if (Request.ContentLength > Options.MaxSignedBodyBytes)
        {
            return null;
        }

        if (Request.ContentLength is { } length && length <= InPipeBodyBytes)
        {
            return await PipeBodyHashAsync();
        }

        Request.EnableBuffering();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        // Pooled: every signed request (every agent's heartbeat) passes here; a new array each time was 16 KB of garbage.
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            long total = 0;
            int read;
            while ((read = await Request.Body.ReadAsync(buffer, Context.RequestAborted)) > 0)
            {
                total += read;
                if (total > Options.MaxSignedBodyBytes)
                {
                    return null;
                }

                hash.AppendData(buffer, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        Request.Body.Position = 0;
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// SHA-256 of a body of a known, small length, read from the request pipe and left there: every
    /// signed heartbeat passes here, and a rewindable copy (<c>EnableBuffering</c>) cost each one a buffer, a copy
    /// and a stream the endpoint then read through.
    /// </summary>
    private async Task<string> PipeBodyHashAsync()
    {
        var reader = Request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync(Context.RequestAborted);
            var buffer = read.Buffer;
            if (!read.IsCompleted)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            if (buffer.IsSingleSegment)
            {
                SHA256.HashData(buffer.FirstSpan, digest);
            }
            else
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                foreach (var segment in buffer)
                {
                    hash.AppendData(segment.Span);
                }

                hash.GetHashAndReset(digest);
            }

            // Examined to its end, nothing consumed: the endpoint's read starts at the body's first byte.
            reader.AdvanceTo(buffer.Start, buffer.End);
            return Convert.ToHexStringLower(digest);
        }
    }

    private AuthenticateResult Success(System.Security.Claims.ClaimsPrincipal principal) =>
        AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));

    private async Task WriteProblemAsync(int status, string title, string detail)
    {
        Response.StatusCode = status;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }
}
