namespace Grid.Testing;

/// <summary>
/// Finds an application of this repository in its own build output (same configuration and framework as the
/// running tests), so multi-process tests start real processes with their own dependency sets.
/// </summary>
public static class BuiltApp
{
    /// <summary>Path of <paramref name="dll"/> in <c>&lt;folder&gt;/&lt;project&gt;/bin/&lt;configuration&gt;/&lt;framework&gt;</c>.</summary>
    public static string PathOf(string project, string dll, string folder = "src")
    {
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        var (framework, configuration) = (testOutput.Name, testOutput.Parent!.Name);
        var repo = testOutput.Parent.Parent!.Parent!.Parent!.Parent!.FullName;
        var path = System.IO.Path.Combine(repo, folder, project, "bin", configuration, framework, dll);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{dll} is not built; build the solution first.", path);
    }
}
