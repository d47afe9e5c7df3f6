namespace Grid.Deployment.Tests.Infrastructure;

/// <summary>Finds the repository the tests run from (the folder with Directory.Packages.props and k8s/).</summary>
public static class RepoRoot
{
    private static readonly Lazy<string> LazyPath = new(Find);

    public static string Path => LazyPath.Value;

    public static string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Directory.Packages.props"))
                && Directory.Exists(System.IO.Path.Combine(dir.FullName, "k8s")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No repository root (Directory.Packages.props + k8s/) above {AppContext.BaseDirectory}.");
    }
}
