using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Grid.Testing.Containers;

/// <summary>An image of the test layout: its tag there and its manifest digest (<c>sha256:…</c>).</summary>
/// <param name="Layout">The OCI layout folder.</param>
/// <param name="Tag">Its tag in the layout.</param>
/// <param name="Digest">The manifest digest.</param>
public sealed record TestImage(string Layout, string Tag, string Digest)
{
    /// <summary>The image as skopeo names it: <c>oci:&lt;layout&gt;:&lt;tag&gt;</c>.</summary>
    public string OciRef => $"oci:{Layout}:{Tag}";
}

/// <summary>An OCI image archive file and its sha256 (the digest an archive URL is pinned by).</summary>
/// <param name="Path">The archive file.</param>
/// <param name="Hex">The file's sha256, 64 hex digits.</param>
public sealed record TestArchive(string Path, string Hex);

/// <summary>
/// Small OCI images built from Debian's <c>busybox-static</c> with umoci, once per test run (in a temp folder
/// removed when the process ends): <see cref="HttpdAsync"/> serves <c>/www/index.html</c>, <see cref="MemoryHogAsync"/>
/// allocates without end (<c>tail /dev/zero</c> buffers a line that never ends), <see cref="ShellAsync"/> runs
/// <c>/bin/sh -c</c> with the arguments a test gives. No downloads.
/// </summary>
public static class TestImages
{
    /// <summary>What <see cref="HttpdAsync"/> answers on <c>/</c>.</summary>
    public const string Greeting = "hello from a grid container";

    /// <summary>The port <see cref="HttpdAsync"/> listens on inside its container.</summary>
    public const int HttpdPort = 8080;

    /// <summary>
    /// An argument for <see cref="ShellAsync"/> that serves, on <see cref="HttpdPort"/>, the value of <c>$REPLICA</c> and a
    /// random token of this start (<c>"a 1f0e…"</c>): tests tell replicas apart, and a moved copy from the one before.
    /// </summary>
    public const string ServeReplicaAndToken =
        "mkdir -p /tmp/www && echo \"$REPLICA $(cat /proc/sys/kernel/random/uuid)\" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www";

    private static readonly string[] s_applets = ["sh", "httpd", "cat", "echo", "sleep", "dd", "ls", "id", "head", "tail", "wget", "env", "touch", "mkdir", "true", "false"];
    private static readonly Lazy<Task<string>> s_layout = new(BuildAsync);
    private static readonly Lazy<Task<TestArchive>> s_archive = new(async () => await ArchiveOfAsync(await HttpdAsync()));

    /// <summary>busybox httpd on <see cref="HttpdPort"/> serving <see cref="Greeting"/>.</summary>
    public static Task<TestImage> HttpdAsync() => ImageAsync("httpd");

    /// <summary>Allocates memory until its limit stops it.</summary>
    public static Task<TestImage> MemoryHogAsync() => ImageAsync("hog");

    /// <summary>Entrypoint <c>/bin/sh -c</c>, default argument <c>echo hello</c>.</summary>
    public static Task<TestImage> ShellAsync() => ImageAsync("shell");

    /// <summary>The httpd image as an OCI archive file (what <c>skopeo copy … oci-archive:</c> writes).</summary>
    public static Task<TestArchive> HttpdArchiveAsync() => s_archive.Value;

    private static async Task<TestImage> ImageAsync(string tag)
    {
        var layout = await s_layout.Value;
        var index = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(layout, "index.json")))!;
        var digest = index["manifests"]!.AsArray()
            .First(m => m?["annotations"]?["org.opencontainers.image.ref.name"]?.GetValue<string>() == tag)!["digest"]!.GetValue<string>();
        return new TestImage(layout, tag, digest);
    }

    private static async Task<TestArchive> ArchiveOfAsync(TestImage image)
    {
        var file = Path.Combine(Path.GetDirectoryName(image.Layout)!, $"{image.Tag}.tar");
        await Tools.RunAsync("skopeo", "copy", "--quiet", image.OciRef, $"oci-archive:{file}");
        await using var stream = File.OpenRead(file);
        return new TestArchive(file, Convert.ToHexStringLower(await SHA256.HashDataAsync(stream)));
    }

    private static async Task<string> BuildAsync()
    {
        var root = Directory.CreateTempSubdirectory("grid-test-images-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(root, recursive: true);
        var layout = Path.Combine(root, "oci");
        var bundle = Path.Combine(root, "bundle");
        await Tools.RunAsync("umoci", "init", "--layout", layout);
        await Tools.RunAsync("umoci", "new", "--image", $"{layout}:base");
        await Tools.RunAsync("umoci", "unpack", "--image", $"{layout}:base", bundle);
        var rootFs = Path.Combine(bundle, "rootfs");
        Directory.CreateDirectory(Path.Combine(rootFs, "bin"));
        File.Copy("/bin/busybox", Path.Combine(rootFs, "bin", "busybox"));
        foreach (var applet in s_applets)
        {
            File.CreateSymbolicLink(Path.Combine(rootFs, "bin", applet), "busybox");
        }

        Directory.CreateDirectory(Path.Combine(rootFs, "www"));
        await File.WriteAllTextAsync(Path.Combine(rootFs, "www", "index.html"), Greeting);
        foreach (var dir in new[] { "tmp", "proc", "dev", "sys" })
        {
            Directory.CreateDirectory(Path.Combine(rootFs, dir));
        }

        await Tools.RunAsync("umoci", "repack", "--image", $"{layout}:base", bundle);
        await ConfigAsync(layout, "httpd", ["/bin/httpd"], ["-f", "-p", $"{HttpdPort}", "-h", "/www"]);
        await ConfigAsync(layout, "hog", ["/bin/sh", "-c"], ["tail /dev/zero"]);
        await ConfigAsync(layout, "shell", ["/bin/sh", "-c"], ["echo hello"]);
        Directory.Delete(bundle, recursive: true);
        return layout;
    }

    private static Task ConfigAsync(string layout, string tag, string[] entrypoint, string[] cmd) =>
        Tools.RunAsync("umoci", [
            "config", "--image", $"{layout}:base", "--tag", tag,
            .. entrypoint.Select(e => $"--config.entrypoint={e}"),
            .. cmd.Select(c => $"--config.cmd={c}")]);
}
