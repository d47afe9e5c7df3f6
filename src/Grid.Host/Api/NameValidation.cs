using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;
using Grid.Client;

namespace Grid.Host.Api;

/// <summary>The rules of a name request that need no state: the name, its backends' shape and the health check.</summary>
public static partial class NameValidation
{
    public const int MaxBackends = 16;
    public const int MaxPathLength = 256;
    public const int MaxUrlLength = 2048;
    public static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxInterval = TimeSpan.FromMinutes(5);

    /// <summary>True for 3–63 lowercase letters, digits and inner hyphens (one DNS label).</summary>
    public static bool IsName(string? name) => name is not null && NamePattern().IsMatch(name);

    public static string Name(Validation validation, string? name)
    {
        if (!IsName(name))
        {
            validation.Add("name", "must be 3-63 lowercase letters, digits or inner hyphens (one DNS label), e.g. myshop.");
            return "";
        }

        return name!;
    }

    public static ImmutableArray<NameBackend> Backends(Validation validation, ImmutableArray<NameBackendRequest>? backends)
    {
        if (backends is not { Length: > 0 } given || given.Length > MaxBackends)
        {
            validation.Add("backends", $"needs 1-{MaxBackends} backends.");
            return [];
        }

        var result = ImmutableArray.CreateBuilder<NameBackend>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < given.Length; i++)
        {
            var field = $"backends[{i}]";
            var backend = Backend(validation, field, given[i]);
            if (backend is not null && !seen.Add($"{backend.WorkloadId}/{backend.Port}/{backend.Url}"))
            {
                validation.Add(field, "is listed twice.");
            }
            else if (backend is not null)
            {
                result.Add(backend);
            }
        }

        return result.ToImmutable();
    }

    public static NameHealthCheck HealthCheck(Validation validation, HealthCheckRequest? check)
    {
        if (check is null)
        {
            return NameHealthCheck.Default;
        }

        var path = check.Path ?? NameHealthCheck.Default.Path;
        if (path.Length > MaxPathLength || !path.StartsWith('/') || path.Any(char.IsWhiteSpace) || !Uri.IsWellFormedUriString(path, UriKind.Relative))
        {
            validation.Add("healthCheck.path", $"must be an absolute path of at most {MaxPathLength} characters, e.g. /health.");
        }

        var interval = NameHealthCheck.Default.Interval;
        if (check.Interval is { } text && (!TryParseDuration(text, out interval) || interval < MinInterval || interval > MaxInterval))
        {
            validation.Add("healthCheck.interval", "must be a duration between 1s and 5m, e.g. 2s, 1500ms or 1m.");
        }

        return new NameHealthCheck(path, interval);
    }

    private static NameBackend? Backend(Validation validation, string field, NameBackendRequest? backend)
    {
        switch (backend)
        {
            case { Url: { } url, WorkloadId: null, Port: null }:
                if (url.Length > MaxUrlLength || !Uri.TryCreate(url, UriKind.Absolute, out var uri)
                    || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host) || !string.IsNullOrEmpty(uri.UserInfo))
                {
                    validation.Add($"{field}.url", "must be an absolute http:// or https:// URL without credentials.");
                    return null;
                }

                return new NameBackend(null, null, url);
            case { Url: null, WorkloadId: { } id, Port: { } port }:
                if (id <= 0)
                {
                    validation.Add($"{field}.workloadId", "must be a workload id (> 0).");
                    return null;
                }

                if (!PortPattern().IsMatch(port))
                {
                    validation.Add($"{field}.port", "must name one of the container's published ports ([a-z0-9_]{1,32}).");
                    return null;
                }

                return new NameBackend(id, port, null);
            default:
                validation.Add(field, "needs either workloadId and port (a published port's name) or url.");
                return null;
        }
    }

    private static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        var match = DurationPattern().Match(text);
        if (!match.Success || !long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var amount) || amount > 1_000_000)
        {
            return false;
        }

        value = match.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(amount),
            "s" => TimeSpan.FromSeconds(amount),
            _ => TimeSpan.FromMinutes(amount),
        };
        return true;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\\z")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[a-z0-9_]{1,32}\\z")]
    private static partial Regex PortPattern();

    [GeneratedRegex("^([0-9]{1,7})(ms|s|m)\\z")]
    private static partial Regex DurationPattern();
}
