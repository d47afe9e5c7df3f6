using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Grid.Client;

namespace Grid.Host.Api;

/// <summary>
/// The <c>container</c> and <c>volume</c> parts of a workload body: an image pinned by digest, commands and
/// environment within the process limits, published ports, mounts and the restart policy; a volume's size. The
/// pull credentials are answered apart from the spec: they never enter grain state.
/// </summary>
public static partial class ContainerValidation
{
    public const int MaxImageLength = 1024;
    public const int MaxPorts = 32;
    public const int MaxMounts = 32;
    public const int MaxPathLength = 4096;
    public const int MaxUsername = 256;
    public const int MaxPassword = 4096;

    /// <summary>The container spec of a <c>container</c> workload and its pull credentials (null unless given).</summary>
    public static (ContainerSpec? Spec, PullCredentials? Auth) Container(Validation validation, WorkloadType? type, ContainerRequest? body)
    {
        if (type != WorkloadType.Container)
        {
            if (body is not null)
            {
                validation.Add("container", "is only for workloads of type container.");
            }

            return (null, null);
        }

        if (body is null || string.IsNullOrWhiteSpace(body.Image))
        {
            validation.Add("container.image", "is required for a container workload.");
            return (null, null);
        }

        if (!IsPinnedImage(body.Image))
        {
            validation.Add("container.image",
                "must be pinned by digest: host[:port]/repo[/...]@sha256:<64 lowercase hex>, or an http(s):// URL of an OCI image archive followed by @sha256:<64 lowercase hex>.");
        }

        if (body.Workdir is { } workdir && !IsAbsolutePath(workdir))
        {
            validation.Add("container.workdir", $"must be an absolute path of at most {MaxPathLength} characters.");
        }

        var spec = new ContainerSpec(
            body.Image,
            WorkloadsApi.Arguments(validation, "container.entrypoint", body.Entrypoint),
            WorkloadsApi.Arguments(validation, "container.args", body.Args),
            WorkloadsApi.Env(validation, "container.env", body.Env),
            body.Workdir,
            Ports(validation, body.Ports ?? []),
            Mounts(validation, body.Mounts ?? []),
            Restart(validation, body.Restart));
        return (spec, Auth(validation, body.Auth));
    }

    /// <summary>The volume spec of a <c>volume</c> workload; its size is all it takes (no separate resources).</summary>
    public static VolumeSpec? Volume(Validation validation, WorkloadType? type, VolumeRequest? body, ResourcesRequest? resources)
    {
        if (type != WorkloadType.Volume)
        {
            if (body is not null)
            {
                validation.Add("volume", "is only for workloads of type volume.");
            }

            return null;
        }

        if (resources is not null)
        {
            validation.Add("resources", "a volume takes its volume.size of the reservation's sru; give no resources.");
        }

        var size = validation.Amount("volume.size", body?.Size, 1, Validation.MaxDisk, required: true);
        return size > 0 ? new VolumeSpec(size) : null;
    }

    /// <summary>
    /// True for <c>host[:port]/repo[/...]@sha256:&lt;64 hex&gt;</c> (a registry reference) and for an http(s) URL
    /// followed by <c>@sha256:&lt;64 hex&gt;</c> (an OCI image archive and the hash of the file).
    /// </summary>
    public static bool IsPinnedImage(string image)
    {
        if (image.Length > MaxImageLength)
        {
            return false;
        }

        var at = image.LastIndexOf("@sha256:", StringComparison.Ordinal);
        if (at <= 0 || !Digest().IsMatch(image[(at + 1)..]))
        {
            return false;
        }

        var location = image[..at];
        if (location.StartsWith("http://", StringComparison.Ordinal) || location.StartsWith("https://", StringComparison.Ordinal))
        {
            return Uri.TryCreate(location, UriKind.Absolute, out var url) && url.Host.Length > 0 && !location.Any(char.IsWhiteSpace);
        }

        return Reference().IsMatch(location);
    }

    private static bool IsAbsolutePath(string path) =>
        path.StartsWith('/') && path.Length <= MaxPathLength && !path.Contains('\0', StringComparison.Ordinal);

    private static ImmutableArray<ContainerPort> Ports(Validation validation, ImmutableArray<PortRequest> ports)
    {
        if (ports.Length > MaxPorts)
        {
            validation.Add("container.ports", $"at most {MaxPorts} ports.");
            return [];
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var numbers = new HashSet<int>();
        var result = ImmutableArray.CreateBuilder<ContainerPort>();
        for (var i = 0; i < ports.Length; i++)
        {
            var field = $"container.ports[{i}]";
            if (ports[i] is not { Name: { } name } || !PortName().IsMatch(name))
            {
                validation.Add($"{field}.name", "must be 1-32 characters of a-z, 0-9 and _ (it names GRID_PORT_<name>).");
                continue;
            }

            if (ports[i].Port is not (>= 1 and <= 65535) || ports[i].Port is not { } port)
            {
                validation.Add($"{field}.port", "must be between 1 and 65535.");
                continue;
            }

            if (!names.Add(name) || !numbers.Add(port))
            {
                validation.Add(field, $"port {name} ({port}) repeats a name or port listed before.");
                continue;
            }

            result.Add(new ContainerPort(name, port));
        }

        return result.ToImmutable();
    }

    private static ImmutableArray<ContainerMount> Mounts(Validation validation, ImmutableArray<MountRequest> mounts)
    {
        if (mounts.Length > MaxMounts)
        {
            validation.Add("container.mounts", $"at most {MaxMounts} mounts.");
            return [];
        }

        var paths = new HashSet<string>(StringComparer.Ordinal);
        var result = ImmutableArray.CreateBuilder<ContainerMount>();
        for (var i = 0; i < mounts.Length; i++)
        {
            var field = $"container.mounts[{i}]";
            var volume = validation.Name($"{field}.volume", mounts[i]?.Volume);
            if (mounts[i]?.Path is not { } path || !IsAbsolutePath(path) || path == "/")
            {
                validation.Add($"{field}.path", $"must be an absolute path other than / of at most {MaxPathLength} characters.");
                continue;
            }

            if (!paths.Add(path.TrimEnd('/')))
            {
                validation.Add($"{field}.path", $"{path} is mounted twice.");
                continue;
            }

            result.Add(new ContainerMount(volume, path, mounts[i].ReadOnly ?? false));
        }

        return result.ToImmutable();
    }

    private static ContainerRestart Restart(Validation validation, string? restart)
    {
        switch (restart)
        {
            case null or "on-failure":
                return ContainerRestart.OnFailure;
            case "always":
                return ContainerRestart.Always;
            case "never":
                return ContainerRestart.Never;
            default:
                validation.Add("container.restart", "must be always, on-failure or never.");
                return ContainerRestart.OnFailure;
        }
    }

    private static PullCredentials? Auth(Validation validation, AuthRequest? auth)
    {
        if (auth is null)
        {
            return null;
        }

        if (auth is not { Username.Length: > 0 and <= MaxUsername, Password.Length: > 0 and <= MaxPassword })
        {
            // Never echoes what was given: the password must not come back in an answer.
            validation.Add("container.auth", $"needs a username (1-{MaxUsername} characters) and a password (1-{MaxPassword} characters).");
            return null;
        }

        return new PullCredentials(auth.Username, auth.Password);
    }

    [GeneratedRegex("^sha256:[0-9a-f]{64}\\z")]
    private static partial Regex Digest();

    // host[:port]/repo[/...]: a registry host (a name with dots or "localhost", or an IPv4 address) and lowercase path parts.
    [GeneratedRegex(@"^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)+\z")]
    private static partial Regex Reference();

    [GeneratedRegex("^[a-z0-9_]{1,32}\\z")]
    private static partial Regex PortName();
}
