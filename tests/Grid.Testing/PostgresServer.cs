using System.Text.RegularExpressions;
using Npgsql;

namespace Grid.Testing;

/// <summary>
/// A real, throwaway PostgreSQL server for tests: a fresh data directory under /tmp, listening on a
/// free 127.0.0.1 port, stopped and deleted on dispose. It can be stopped and started again on the
/// same data and port to test what the Grid does during a database outage.
/// </summary>
/// <remarks>
/// Uses the newest server found in /usr/lib/postgresql/*/bin. PostgreSQL refuses to run as root, so
/// under root every server binary runs through <c>runuser -u postgres</c>. Durability is switched off
/// (<c>fsync=off</c> and friends): the data only has to survive a clean stop, and tests run faster.
/// </remarks>
public sealed partial class PostgresServer : IAsyncDisposable
{
    private const string SuperUser = "postgres";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private readonly string _binDirectory;
    private readonly string _rootDirectory;
    private bool _running;
    private bool _durable;

    private PostgresServer(string binDirectory, string rootDirectory, int port)
    {
        _binDirectory = binDirectory;
        _rootDirectory = rootDirectory;
        Port = port;
    }

    /// <summary>The port the server listens on (127.0.0.1).</summary>
    public int Port { get; private set; }

    /// <summary>The PostgreSQL data directory.</summary>
    public string DataDirectory => Path.Combine(_rootDirectory, "data");

    /// <summary>The server log, useful in a failing test's message.</summary>
    public string LogPath => Path.Combine(_rootDirectory, "server.log");

    /// <summary>Connection string of the superuser to the <c>postgres</c> database.</summary>
    public string ConnectionString => ConnectionStringFor("postgres");

    /// <summary>Creates a data directory and starts a server on a free port.</summary>
    /// <param name="durable">Keep PostgreSQL's default durability (fsync, synchronous commit): a benchmark whose
    /// figure depends on commits reaching the disk.</param>
    public static async Task<PostgresServer> StartNewAsync(bool durable = false)
    {
        var binDirectory = FindBinDirectory();
        var root = Path.Combine(Path.GetTempPath(), $"grid-pg-{Guid.NewGuid():N}"[..20]);
        Directory.CreateDirectory(root);
        var server = new PostgresServer(binDirectory, root, FreePort.Get()) { _durable = durable };
        try
        {
            if (Environment.IsPrivilegedProcess)
            {
                await RunCheckedAsync("chown", [$"{SuperUser}:{SuperUser}", root]);
            }

            await server.RunServerToolAsync("initdb",
                ["-D", server.DataDirectory, "--auth=trust", "-U", SuperUser, "-E", "UTF8", "--locale=C", "--no-sync"]);

            // A free port can be taken between choosing and binding it; choose again a few times.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await server.StartAsync();
                    return server;
                }
                catch (InvalidOperationException) when (attempt < 3)
                {
                    server.Port = FreePort.Get();
                }
            }
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates an empty database and returns the connection string to it.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        if (!DatabaseName().IsMatch(name))
        {
            throw new ArgumentException("Use lower-case letters, digits and underscores (max 63).", nameof(name));
        }

        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionStringFor(name);
    }

    /// <summary>Connection string of the superuser to <paramref name="database"/>.</summary>
    public string ConnectionStringFor(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = SuperUser,
        Database = database,
        Timeout = 5,
    }.ConnectionString;

    /// <summary>Starts the server (again) on the same data directory and port; waits until it accepts connections.</summary>
    public async Task StartAsync()
    {
        var options = $"-p {Port} -c listen_addresses=127.0.0.1 -k {_rootDirectory} -c max_connections=200" +
                      (_durable ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        try
        {
            await RunServerToolAsync("pg_ctl", ["-D", DataDirectory, "-l", LogPath, "-w", "-t", "30", "-o", options, "start"]);
        }
        catch (InvalidOperationException ex)
        {
            var log = File.Exists(LogPath) ? await File.ReadAllTextAsync(LogPath) : "(no server log)";
            throw new InvalidOperationException($"{ex.Message}{Environment.NewLine}Server log:{Environment.NewLine}{log}", ex);
        }

        _running = true;
    }

    /// <summary>Stops the server; <paramref name="immediate"/> simulates a crash instead of a clean shutdown.</summary>
    public async Task StopAsync(bool immediate = false)
    {
        // Pooled connections to a stopped server are dead; drop them so the next open reconnects.
        NpgsqlConnection.ClearAllPools();
        await RunServerToolAsync("pg_ctl", ["-D", DataDirectory, "-w", "-t", "30", "-m", immediate ? "immediate" : "fast", "stop"]);
        _running = false;
    }

    /// <summary>Stops the server at once and deletes its directory.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_running)
        {
            try
            {
                await StopAsync(immediate: true);
            }
            catch (InvalidOperationException)
            {
                // Already gone; the directory is removed below either way.
            }
        }

        try
        {
            Directory.Delete(_rootDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Leaves a directory in /tmp at worst.
        }
    }

    private static string FindBinDirectory()
    {
        const string root = "/usr/lib/postgresql";
        var candidates = Directory.Exists(root) ? Directory.GetDirectories(root) : [];
        return candidates
            .Select(dir => (Version: int.TryParse(Path.GetFileName(dir), out var v) ? v : 0, Bin: Path.Combine(dir, "bin")))
            .Where(c => File.Exists(Path.Combine(c.Bin, "pg_ctl")) && File.Exists(Path.Combine(c.Bin, "initdb")))
            .OrderByDescending(c => c.Version)
            .Select(c => c.Bin)
            .FirstOrDefault()
            ?? throw new InvalidOperationException(
                "No PostgreSQL server found in /usr/lib/postgresql/*/bin; install it (apt-get install postgresql).");
    }

    private Task RunServerToolAsync(string tool, IReadOnlyList<string> arguments)
    {
        var path = Path.Combine(_binDirectory, tool);
        return Environment.IsPrivilegedProcess
            ? RunCheckedAsync("runuser", ["-u", SuperUser, "--", path, .. arguments])
            : RunCheckedAsync(path, arguments);
    }

    private static async Task RunCheckedAsync(string fileName, IReadOnlyList<string> arguments)
    {
        var (exitCode, output) = await ChildProcess.RunAsync(fileName, arguments, CommandTimeout);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} exited with {exitCode}: {output}");
        }
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex DatabaseName();
}
