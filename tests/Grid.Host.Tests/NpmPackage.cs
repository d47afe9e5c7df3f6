using Grid.Testing;

namespace Grid.Host.Tests;

/// <summary>
/// A published npm package installed once per machine into a cache under the temp folder (npm from its configured
/// registry), so only the first run pays for the download. Node.js and npm are required: CI installs them
/// (<c>.ci/run</c>); a machine without them fails the test with a message that says so, rather than skipping it.
/// </summary>
public static class NpmPackage
{
    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The folder whose <c>node_modules</c> holds <paramref name="name"/> at <paramref name="version"/>.</summary>
    public static async Task<string> EnsureAsync(string name, string version)
    {
        var folder = Path.Combine(Path.GetTempPath(), "grid-orleans-npm", $"{name.Replace('/', '+')}@{version}");
        if (File.Exists(PackageJson(folder, name)))
        {
            return folder;
        }

        Require("npm");
        // Install beside the cache and move it in whole, so an interrupted install never looks like a finished one.
        var staging = folder + ".staging-" + Guid.NewGuid().ToString("N");
        Directory.CreateDirectory(staging);
        await File.WriteAllTextAsync(Path.Combine(staging, "package.json"), """{"private":true}""");
        var (exitCode, output) = await ChildProcess.RunAsync(
            "npm", ["install", "--no-save", "--no-audit", "--no-fund", "--prefix", staging, $"{name}@{version}"], InstallTimeout);
        Assert.True(exitCode == 0 && File.Exists(PackageJson(staging, name)), $"npm install {name}@{version} failed ({exitCode}): {output}");
        try
        {
            Directory.Move(staging, folder);
        }
        catch (IOException) when (File.Exists(PackageJson(folder, name)))
        {
            // Another run installed it meanwhile.
            Directory.Delete(staging, recursive: true);
        }

        return folder;
    }

    /// <summary>Fails with a clear message when <paramref name="tool"/> is not on the PATH.</summary>
    public static void Require(string tool)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, tool)));
        Assert.True(found, $"'{tool}' is not installed: the grid-proxy client test needs Node.js and npm " +
            "(.ci/run installs them; locally: apt-get install nodejs npm).");
    }

    private static string PackageJson(string folder, string name) => Path.Combine(folder, "node_modules", name, "package.json");
}
