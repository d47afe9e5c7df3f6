using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Grid.Agent.Runtimes.Containers;

/// <summary>
/// The node's content-addressed image cache under <c>&lt;workdir&gt;/images/&lt;digest hex&gt;/</c>: the OCI layout skopeo
/// pulled (<c>layout/</c>, tag <c>img</c>) and the bundle umoci unpacked from it once (<c>bundle/</c>, its root
/// filesystem owned by the containers' mapped root and never written: containers get an overlay on it). The
/// node verifies every digest itself. Unused images go oldest first when the cache outgrows its size or the disk
/// under it runs short of space for a pull (<c>ImageStore.Eviction.cs</c>); an image in use never goes.
/// </summary>
/// <param name="root">The cache folder.</param>
/// <param name="uidBase">Host uid (and gid) the containers' root is mapped to.</param>
/// <param name="maxBytes">Size the cache may take before unused images are removed.</param>
internal sealed partial class ImageStore(string root, int uidBase, long maxBytes)
{
    private const string Tag = "img";
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromMinutes(10) };

    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new();

    /// <summary>The cache folder.</summary>
    public string Root => root;

    /// <summary>
    /// The image of <paramref name="reference"/>, pulled and unpacked unless cached. An image another twin pulled
    /// with credentials is pulled again for <paramref name="twinId"/> first (its own access is proven), then shared.
    /// Before a pull, unused images leave (least recently used first) while the disk under the cache has less free
    /// than an image here takes; a pull that still runs out of space removes every unused image and tries once more.
    /// </summary>
    /// <param name="reference">The image, pinned by digest.</param>
    /// <param name="auth">Credentials for the pull (never stored).</param>
    /// <param name="twinId">The twin whose workload starts from it.</param>
    /// <param name="inUse">The digests' hex of the images containers run from (or are starting from): never removed.</param>
    /// <param name="onPull">Called when the image must be pulled.</param>
    /// <param name="cancellationToken">Cancels the pull.</param>
    /// <exception cref="ImagePullException">The image cannot be pulled, fails its digest, is not an image or finds no space.</exception>
    public async Task<ReadyImage> EnsureAsync(
        ImageReference reference, PullCredentials? auth, long twinId, Func<IReadOnlySet<string>> inUse, Action onPull, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(reference.Hex, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            var cached = Load(reference.Hex);
            if (cached is not null && cached.HandsTo(twinId))
            {
                Save(cached with { LastUsed = DateTimeOffset.UtcNow, Twins = cached.Twins.Contains(twinId) ? cached.Twins : cached.Twins.Add(twinId) });
                return await ReadAsync(Path.Combine(root, reference.Hex), reference.Digest);
            }

            onPull();
            MakeRoom(Largest(), inUse());
            try
            {
                return await PullIntoCacheAsync(reference, auth, twinId, cached, cancellationToken);
            }
            catch (ImagePullException e) when (e.Reason == WorkloadReasons.NoSpace)
            {
                // The estimate was short: every unused image goes, then one more try; the images in use stay.
                if (MakeRoom(long.MaxValue, inUse()) == 0)
                {
                    throw NoSpace(reference, inUse());
                }

                try
                {
                    return await PullIntoCacheAsync(reference, auth, twinId, cached, cancellationToken);
                }
                catch (ImagePullException again) when (again.Reason == WorkloadReasons.NoSpace)
                {
                    throw NoSpace(reference, inUse());
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Pulls into a folder of its own, unpacks and moves it into the cache; a cached image is only handed to the twin.</summary>
    private async Task<ReadyImage> PullIntoCacheAsync(
        ImageReference reference, PullCredentials? auth, long twinId, CachedImage? cached, CancellationToken cancellationToken)
    {
        var dir = Path.Combine(root, reference.Hex);
        var work = Path.Combine(root, $".pull-{reference.Hex}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(work);
            var layout = Path.Combine(work, "layout");
            await PullAsync(reference, auth, layout, work, cancellationToken);
            if (cached is not null)
            {
                // The twin proved its own access: the cached image is handed to it from now on.
                Save(cached with { LastUsed = DateTimeOffset.UtcNow, Twins = cached.Twins.Add(twinId) });
                return await ReadAsync(dir, reference.Digest);
            }

            var unpack = await Tool.RunAsync("umoci", [
                "unpack", "--uid-map", $"0:{uidBase}:65536", "--gid-map", $"0:{uidBase}:65536",
                "--image", $"{layout}:{Tag}", Path.Combine(work, "bundle")], cancellationToken);
            if (!unpack.Ok)
            {
                // umoci does not always say it ran out of space: a write failing under its decompressor can end it in
                // a panic that never names ENOSPC (seen in a test filling the disk). A disk left with less free than
                // the image's compressed layers is taken as the cause, not the image: it is retried once there is room.
                throw IsNoSpace(unpack.Output) || FreeBytes() < SizeOf(layout)
                    ? new ImagePullException(WorkloadReasons.NoSpace, $"umoci ran out of space unpacking the image: {Last(unpack.Output)}")
                    : new ImagePullException(WorkloadReasons.NotAnImage, $"umoci could not unpack the image: {Last(unpack.Output)}");
            }

            PrepareMountPoints(Path.Combine(work, "bundle", "rootfs"));
            Directory.Move(work, dir);
            Save(new CachedImage(reference.Hex, auth is not null, [twinId], SizeOf(dir), DateTimeOffset.UtcNow));
            return await ReadAsync(dir, reference.Digest);
        }
        catch (IOException e) when (IsNoSpace(e.Message))
        {
            throw new ImagePullException(WorkloadReasons.NoSpace, $"no space left for the image: {e.Message}");
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    /// <summary>What the cache holds about <paramref name="hex"/>; null when the image is not (completely) here.</summary>
    public CachedImage? Load(string hex)
    {
        var file = Path.Combine(root, hex, "image.json");
        return File.Exists(file) ? JsonSerializer.Deserialize<CachedImage>(File.ReadAllText(file)) : null;
    }

    private IEnumerable<CachedImage> All() => Directory.Exists(root)
        ? Directory.EnumerateDirectories(root).Select(d => Load(Path.GetFileName(d))).OfType<CachedImage>().ToList()
        : [];

    private void Save(CachedImage image) =>
        AtomicFile.WriteAllText(Path.Combine(root, image.Hex, "image.json"), JsonSerializer.Serialize(image));

    /// <summary>skopeo copies the image into an OCI layout; the node then checks the digest itself.</summary>
    private static async Task PullAsync(ImageReference reference, PullCredentials? auth, string layout, string work, CancellationToken cancellationToken)
    {
        if (reference.IsArchive)
        {
            var archive = Path.Combine(work, "image.tar");
            var hash = await DownloadAsync(reference.Source, archive, cancellationToken);
            if (hash != reference.Hex)
            {
                throw new ImagePullException(WorkloadReasons.DigestMismatch, $"the archive's sha256 is {hash}, not {reference.Hex}");
            }

            var copy = await Tool.RunAsync("skopeo", ["copy", "--quiet", $"oci-archive:{archive}", $"oci:{layout}:{Tag}"], cancellationToken);
            if (!copy.Ok)
            {
                throw IsNoSpace(copy.Output)
                    ? new ImagePullException(WorkloadReasons.NoSpace, $"skopeo ran out of space: {Last(copy.Output)}")
                    : new ImagePullException(WorkloadReasons.NotAnImage, $"the archive is not an OCI image: {Last(copy.Output)}");
            }

            return;
        }

        var authFile = auth is null ? null : WriteAuthFile(work, reference.Registry!, auth);
        string[] credentials = authFile is null ? [] : ["--src-authfile", authFile];
        ToolResult pull;
        try
        {
            pull = await Tool.RunAsync(
                "skopeo", ["copy", "--quiet", "--src-tls-verify=false", .. credentials, $"docker://{reference.Source}", $"oci:{layout}:{Tag}"], cancellationToken);
        }
        finally
        {
            if (authFile is not null)
            {
                File.Delete(authFile);
            }
        }

        if (!pull.Ok)
        {
            var why = Last(pull.Output);
            throw new ImagePullException(
                IsNoSpace(pull.Output) ? WorkloadReasons.NoSpace
                : why.Contains("unsupported", StringComparison.OrdinalIgnoreCase) || why.Contains("mime type", StringComparison.OrdinalIgnoreCase)
                    ? WorkloadReasons.NotAnImage
                    : why.Contains("digest", StringComparison.OrdinalIgnoreCase) && why.Contains("match", StringComparison.OrdinalIgnoreCase)
                        ? WorkloadReasons.DigestMismatch
                        : WorkloadReasons.ImagePullFailed,
                $"could not pull {reference.Source}: {why}");
        }

        var pulled = await ManifestDigestAsync(layout, cancellationToken);
        if (pulled != reference.Digest)
        {
            throw new ImagePullException(WorkloadReasons.DigestMismatch, $"the registry served manifest {pulled}, not {reference.Digest}");
        }
    }

    /// <summary>The sha256 of the manifest blob the layout's index points at, hashed here rather than trusted.</summary>
    private static async Task<string> ManifestDigestAsync(string layout, CancellationToken cancellationToken)
    {
        var index = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(layout, "index.json"), cancellationToken));
        var named = index?["manifests"]?[0]?["digest"]?.GetValue<string>() ?? "";
        var blob = Path.Combine(layout, "blobs", "sha256", named.Replace("sha256:", "", StringComparison.Ordinal));
        if (!named.StartsWith("sha256:", StringComparison.Ordinal) || !File.Exists(blob))
        {
            throw new ImagePullException(WorkloadReasons.NotAnImage, "the pulled image has no manifest");
        }

        await using var stream = File.OpenRead(blob);
        return "sha256:" + Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
    }

    private static async Task<string> DownloadAsync(string url, string file, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await s_http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new ImagePullException(WorkloadReasons.ImagePullFailed, $"GET {url} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            await using (var output = File.Create(file))
            {
                await body.CopyToAsync(output, cancellationToken);
            }

            await using var written = File.OpenRead(file);
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(written, cancellationToken));
        }
        catch (HttpRequestException e)
        {
            throw new ImagePullException(WorkloadReasons.ImagePullFailed, $"could not download {url}: {e.Message}");
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ImagePullException(WorkloadReasons.ImagePullFailed, $"could not download {url}: {e.Message}");
        }
    }

    /// <summary>
    /// The credentials go to skopeo in a file only the agent can read, deleted right after the pull: never in its
    /// arguments, where any user of the machine could read them.
    /// </summary>
    private static string WriteAuthFile(string work, string registry, PullCredentials auth)
    {
        var file = Path.Combine(work, "auth.json");
        var token = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{auth.Username}:{auth.Password}"));
        var json = new JsonObject { ["auths"] = new JsonObject { [registry] = new JsonObject { ["auth"] = token } } };
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        // Plain UTF-8 without a byte order mark: skopeo's JSON reader refuses one.
        using var stream = new FileStream(file, options);
        stream.Write(Encoding.UTF8.GetBytes(json.ToJsonString()));
        return file;
    }

    /// <summary>The folders runc mounts over must exist in the (shared, never written) root filesystem.</summary>
    private void PrepareMountPoints(string rootFs)
    {
        foreach (var name in new[] { "proc", "dev", "sys", "tmp" })
        {
            var path = Path.Combine(rootFs, name);
            if (!Directory.Exists(path) && !File.Exists(path))
            {
                Directory.CreateDirectory(path);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(path, name == "tmp" ? (UnixFileMode)Convert.ToInt32("1777", 8) : (UnixFileMode)Convert.ToInt32("755", 8));
                }

                Chown(path);
            }
        }
    }

    private void Chown(string path)
    {
        // .NET has no chown: the tool does it (the folders are few and made once per image).
        using var chown = System.Diagnostics.Process.Start("chown", [$"{uidBase.ToString(CultureInfo.InvariantCulture)}:{uidBase.ToString(CultureInfo.InvariantCulture)}", path]);
        chown.WaitForExit();
    }

    private static async Task<ReadyImage> ReadAsync(string dir, string digest)
    {
        var bundle = Path.Combine(dir, "bundle");
        var layout = Path.Combine(dir, "layout");
        var index = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(layout, "index.json")));
        var manifestDigest = index?["manifests"]?[0]?["digest"]?.GetValue<string>() ?? "";
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(layout, "blobs", "sha256", manifestDigest.Replace("sha256:", "", StringComparison.Ordinal))));
        var configDigest = manifest?["config"]?["digest"]?.GetValue<string>() ?? "";
        var config = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(layout, "blobs", "sha256", configDigest.Replace("sha256:", "", StringComparison.Ordinal))));
        return new ReadyImage(digest, bundle, Strings(config?["config"]?["Entrypoint"]), Strings(config?["config"]?["Cmd"]));
    }

    private static ImmutableArray<string> Strings(JsonNode? node) =>
        node is JsonArray array ? [.. array.Select(n => n?.GetValue<string>() ?? "")] : [];

    private static long SizeOf(string dir) =>
        new DirectoryInfo(dir).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Where(f => f.LinkTarget is null).Sum(f => f.Length);

    private static string Last(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "no output";
}
