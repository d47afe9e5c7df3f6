using System.Net.Sockets;
using System.Security.Cryptography;

namespace Grid.Testing.Containers;

/// <summary>
/// Debian's <c>docker-registry</c> (Distribution v2) on 127.0.0.1 at a free port, storing under a temp folder, as a
/// child process; optionally behind htpasswd basic auth (bcrypt from python3's <c>crypt</c>). Disposing kills it and
/// deletes its storage.
/// </summary>
public sealed class LocalRegistry : IAsyncDisposable
{
    private readonly string _dir;
    private readonly ChildProcess _process;
    private readonly (string User, string Password)? _auth;

    private LocalRegistry(string dir, ChildProcess process, int port, (string, string)? auth)
    {
        _dir = dir;
        _process = process;
        _auth = auth;
        Host = $"127.0.0.1:{port}";
    }

    /// <summary><c>127.0.0.1:&lt;port&gt;</c>.</summary>
    public string Host { get; }

    /// <summary>Starts a registry; with <paramref name="user"/> and <paramref name="password"/> it requires them.</summary>
    public static async Task<LocalRegistry> StartAsync(string? user = null, string? password = null)
    {
        var dir = Directory.CreateTempSubdirectory("grid-test-registry-").FullName;
        var port = FreePort.Get();
        var auth = "";
        if (user is not null && password is not null)
        {
            var hash = (await Tools.RunAsync("python3", "-W", "ignore", "-c",
                "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))", password)).Trim();
            await File.WriteAllTextAsync(Path.Combine(dir, "htpasswd"), $"{user}:{hash}\n");
            auth = $"auth:\n  htpasswd:\n    realm: grid-test\n    path: {Path.Combine(dir, "htpasswd")}\n";
        }

        var config = Path.Combine(dir, "config.yml");
        await File.WriteAllTextAsync(config,
            $"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {Path.Combine(dir, "data")}\n" +
            $"http:\n  addr: 127.0.0.1:{port}\n  secret: {Convert.ToHexString(RandomNumberGenerator.GetBytes(16))}\n{auth}");
        var process = ChildProcess.Start("docker-registry", ["serve", config]);
        var registry = new LocalRegistry(dir, process, port, user is null ? null : (user, password!));
        await Poll.UntilAsync(async () =>
        {
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync("127.0.0.1", port);
                return true;
            }
            catch (SocketException)
            {
                return process.HasExited ? throw new InvalidOperationException($"docker-registry exited: {process.Output}") : false;
            }
        }, TimeSpan.FromSeconds(30), "docker-registry to listen");
        return registry;
    }

    /// <summary>Pushes <paramref name="image"/> as <paramref name="repository"/>; answers the reference pinned by its digest.</summary>
    public async Task<string> PushAsync(TestImage image, string repository)
    {
        string[] credentials = _auth is { } auth ? ["--dest-creds", $"{auth.User}:{auth.Password}"] : [];
        await Tools.RunAsync("skopeo", ["copy", "--quiet", "--dest-tls-verify=false", .. credentials, image.OciRef, $"docker://{Host}/{repository}:{image.Tag}"]);
        return $"{Host}/{repository}@{image.Digest}";
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }
}
