using Grid.Testing;

namespace Grid.EndToEnd.Tests;

/// <summary>The changelog's release commits, which a clone without tags upgrades from, are real and in order.</summary>
public sealed class ReleaseNotesTests
{
    [Fact]
    public void SectionsAreReadNewestFirstWithTheCommitOfEachReleasedOne()
    {
        var releases = ReleaseNotes.Parse("""
            # Changelog
            Released as commit 1111111111111111111111111111111111111111 (before any section: not a release's)

            ## 0.5.0 — unreleased

            ## 0.4.0 — two (2026-12-07)

            Released as commit aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa (tag `v0.4.0`).
            Released as commit bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb (a second line is not the release)

            ## 0.3.0 — one
            text Released as commit cccccccccccccccccccccccccccccccccccccccc (not at the start of a line)
            """.ReplaceLineEndings("\n"));

        Assert.Equal(
            [new("0.5.0", null), new("0.4.0", new string('a', 40)), new("0.3.0", null)],
            releases);
    }

    [Fact]
    public async Task EveryReleasedCommitOfTheChangelogIsAnAncestorOfThisTreeAndItsTagWhereTheCloneHasOne()
    {
        var repo = PreviousRelease.RepoOfTests();
        var releases = ReleaseNotes.Parse(await File.ReadAllTextAsync(Path.Combine(repo, "docs", "CHANGELOG.md")));
        Assert.Equal(GridRelease.Version, releases[0].Version);
        var released = releases.Where(release => release.Commit is not null).ToList();
        Assert.NotEmpty(released);
        foreach (var release in released)
        {
            var (ancestor, output) = await ChildProcess.RunAsync("git", ["-C", repo, "merge-base", "--is-ancestor", release.Commit!, "HEAD"], TimeSpan.FromMinutes(1));
            Assert.True(ancestor == 0, $"{release.Version}'s commit {release.Commit} is not an ancestor of HEAD: {output}");
            var (tagged, tag) = await ChildProcess.RunAsync("git", ["-C", repo, "rev-parse", "--verify", "--quiet", $"v{release.Version}^{{commit}}"], TimeSpan.FromMinutes(1));
            if (tagged == 0)
            {
                Assert.Equal(release.Commit, tag.Trim());
            }
        }
    }
}
