using System.Diagnostics;
using Grid.Testing;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// The previous release of this repository, built: the newest tag <c>v*</c> reachable from HEAD, or where a clone has
/// no tags the newest release whose commit <c>docs/CHANGELOG.md</c> names (or the commit-ish in
/// <c>GRID_UPGRADE_FROM</c>), checked out in a throwaway git worktree and built (the host and the <c>grid</c> command
/// only) into a cache under <c>/tmp/grid-releases/&lt;commit&gt;</c>, so a second run starts at once.
/// </summary>
/// <param name="Ref">What was asked for: the tag or the override.</param>
/// <param name="Commit">The full commit hash it names.</param>
/// <param name="HostDll">Its <c>Grid.Host.dll</c>.</param>
/// <param name="GridDll">Its <c>grid.dll</c> (CLI and agent).</param>
/// <param name="Notes">What the test output should say: where it came from, whether it was built now and how long that took.</param>
public sealed record PreviousRelease(string Ref, string Commit, string HostDll, string GridDll, IReadOnlyList<string> Notes)
{
    /// <summary>Overrides the tag lookup with any commit-ish (a tag, a branch, a hash).</summary>
    public const string OverrideVariable = "GRID_UPGRADE_FROM";

    private static readonly TimeSpan GitTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(25);
    private static readonly SemaphoreSlim s_building = new(1, 1);

    /// <summary>Where builds are kept, one folder per commit.</summary>
    public static string CacheRoot => Path.Combine(Path.GetTempPath(), "grid-releases");

    /// <summary>Finds the previous release and builds it unless the cache has it; fails the test when there is none.</summary>
    public static async Task<PreviousRelease> FindAndBuildAsync()
    {
        var notes = new List<string>();
        var repo = (await GitAsync(RepoOfTests(), "rev-parse", "--show-toplevel")).Trim();
        var head = (await GitAsync(repo, "rev-parse", "HEAD")).Trim();
        var asked = Environment.GetEnvironmentVariable(OverrideVariable);
        string reference;
        if (!string.IsNullOrWhiteSpace(asked))
        {
            reference = asked.Trim();
            notes.Add($"previous release: {reference} (from {OverrideVariable})");
        }
        else
        {
            var (code, output) = await ChildProcess.RunAsync("git", ["-C", repo, "describe", "--tags", "--abbrev=0", "--match", "v*"], GitTimeout);
            if (code == 0)
            {
                reference = output.Trim();
                notes.Add($"previous release: tag {reference}");
            }
            else
            {
                // A clone of the branch alone carries no tags (CI's does not): the changelog names each release's commit.
                reference = await FromChangelogAsync(repo, notes, output.Trim());
            }
        }

        var commit = (await GitAsync(repo, "rev-parse", "--verify", $"{reference}^{{commit}}")).Trim();
        if (commit == head)
        {
            notes.Add($"{reference} is HEAD itself ({commit[..9]}): this is a same-build upgrade, which proves the rolling " +
                "procedure but no compatibility between two different releases");
        }

        var folder = Path.Combine(CacheRoot, commit);
        var hostDll = Path.Combine(folder, "host", "Grid.Host.dll");
        var gridDll = Path.Combine(folder, "cli", "grid.dll");
        await s_building.WaitAsync();
        try
        {
            using var fileLock = await LockAsync(folder + ".lock");
            if (File.Exists(Path.Combine(folder, "complete")))
            {
                notes.Add($"build of {commit[..9]} taken from {folder}");
            }
            else
            {
                var clock = Stopwatch.StartNew();
                await BuildAsync(repo, commit, folder, notes);
                notes.Add($"built {commit[..9]} (host and grid) in {clock.Elapsed.TotalSeconds:0} s into {folder}");
            }
        }
        finally
        {
            s_building.Release();
        }

        return new PreviousRelease(reference, commit, hostDll, gridDll, notes);
    }

    /// <summary>
    /// The newest release in <c>docs/CHANGELOG.md</c> whose section names its commit (<c>Released as commit …</c>) and
    /// whose version is not this tree's own; the commit must be in this clone's history, and is fetched from
    /// <c>origin</c> when it is not (a shallow clone).
    /// </summary>
    private static async Task<string> FromChangelogAsync(string repo, List<string> notes, string describe)
    {
        var changelog = Path.Combine(repo, "docs", "CHANGELOG.md");
        Assert.True(File.Exists(changelog), $"No previous release to upgrade from: no tag v* in {repo} (git describe: {describe}) and no {changelog}.");
        var release = ReleaseNotes.Parse(await File.ReadAllTextAsync(changelog))
            .FirstOrDefault(release => release.Commit is not null && release.Version != GridRelease.Version);
        Assert.True(release is not null,
            $"No previous release to upgrade from: no tag v* in {repo} (git describe: {describe}) and no section of {changelog} " +
            $"other than {GridRelease.Version}'s says 'Released as commit <hash>'. Name a commit-ish in {OverrideVariable}.");
        if ((await ChildProcess.RunAsync("git", ["-C", repo, "cat-file", "-e", $"{release.Commit}^{{commit}}"], GitTimeout)).ExitCode != 0)
        {
            var (fetched, output) = await ChildProcess.RunAsync("git", ["-C", repo, "fetch", "--quiet", "origin", release.Commit!], GitTimeout);
            var (_, shallow) = await ChildProcess.RunAsync("git", ["-C", repo, "rev-parse", "--is-shallow-repository"], GitTimeout);
            Assert.True(fetched == 0,
                $"The previous release {release.Version} (commit {release.Commit}, from {changelog}) is not in this clone's " +
                $"history (shallow: {shallow.Trim()}) and fetching it from origin failed: {output.Trim()}. Clone with history " +
                $"or name a commit-ish in {OverrideVariable}.");
            notes.Add($"fetched {release.Commit![..9]} from origin");
        }

        notes.Add($"previous release: {release.Version} at {release.Commit![..9]} (no tag v* in this clone; from docs/CHANGELOG.md)");
        return release.Commit!;
    }

    private static async Task BuildAsync(string repo, string commit, string folder, List<string> notes)
    {
        var worktree = Path.Combine(Path.GetTempPath(), $"grid-release-{commit[..12]}-{Guid.NewGuid():N}");
        await GitAsync(repo, "worktree", "add", "--detach", worktree, commit);
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }

            foreach (var (project, into) in new[] { ("Grid.Host", "host"), ("Grid.Cli", "cli") })
            {
                var source = Path.Combine(worktree, "src", project);
                if (!await DotnetBuildAsync(source, notes, strict: true))
                {
                    // A newer SDK's analyzers may find warnings the release was built clean of: only they are forgiven.
                    notes.Add($"{project} of {commit[..9]} did not build with warnings as errors; built again without");
                    Assert.True(await DotnetBuildAsync(source, notes, strict: false), $"{project} of {commit[..9]} does not build:\n{notes[^1]}");
                }

                // One framework folder, whichever the release targeted.
                CopyDirectory(Directory.GetDirectories(Path.Combine(source, "bin", "Debug")).Single(), Path.Combine(folder, into));
            }

            await File.WriteAllTextAsync(Path.Combine(folder, "complete"), commit);
        }
        finally
        {
            await ChildProcess.RunAsync("git", ["-C", repo, "worktree", "remove", "--force", worktree], GitTimeout);
            if (Directory.Exists(worktree))
            {
                Directory.Delete(worktree, recursive: true);
            }

            await ChildProcess.RunAsync("git", ["-C", repo, "worktree", "prune"], GitTimeout);
        }
    }

    /// <summary>Builds one project with no build servers left behind (every process it starts ends with it).</summary>
    private static async Task<bool> DotnetBuildAsync(string project, List<string> notes, bool strict)
    {
        string[] arguments =
        [
            "build", project, "-c", "Debug", "--disable-build-servers", "-nodeReuse:false", "-p:UseSharedCompilation=false",
            "-clp:ErrorsOnly", .. strict ? Array.Empty<string>() : ["-p:TreatWarningsAsErrors=false"],
        ];

        // The test host's own MSBuild settings (set by `dotnet test`) must not leak into a build of another tree.
        var environment = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(name => name.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(name => name, _ => (string?)null);
        var (code, output) = await ChildProcess.RunAsync("dotnet", arguments, BuildTimeout, environment);
        if (code != 0)
        {
            notes.Add($"dotnet {string.Join(' ', arguments)} exited {code}:\n{GridProcesses.Tail(output, 40)}");
        }

        return code == 0;
    }

    private static void CopyDirectory(string from, string to)
    {
        Assert.True(Directory.Exists(from), $"the build left no {from}");
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    /// <summary>An exclusive lock file, so two test runs on one machine do not build the same commit at once.</summary>
    private static async Task<FileStream> LockAsync(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        FileStream? stream = null;
        await Poll.UntilAsync(() =>
        {
            try
            {
                stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                return true;
            }
            catch (IOException)
            {
                return false;
            }
        }, BuildTimeout, $"the build lock {path} is free");
        return stream!;
    }

    private static async Task<string> GitAsync(string directory, params string[] arguments)
    {
        var (code, output) = await ChildProcess.RunAsync("git", ["-C", directory, .. arguments], GitTimeout);
        Assert.True(code == 0, $"git {string.Join(' ', arguments)} in {directory} exited {code}: {output.Trim()}");
        return output;
    }

    /// <summary>The checkout the tests were built from: <c>&lt;repo&gt;/tests/&lt;project&gt;/bin/&lt;configuration&gt;/&lt;framework&gt;</c>.</summary>
    internal static string RepoOfTests() =>
        new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
}
