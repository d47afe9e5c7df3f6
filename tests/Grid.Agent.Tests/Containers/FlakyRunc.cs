using System.Globalization;
using Grid.Agent.Runtimes;

namespace Grid.Agent.Tests.Containers;

/// <summary>
/// A runc for one test: a script that runs the machine's runc for everything, except that the next listings it is
/// told to fail answer as a listing racing a deletion does ("stat /run/runc/…: no such file or directory", exit 1).
/// </summary>
internal sealed class FlakyRunc : IDisposable
{
    private readonly string _counter;

    private FlakyRunc(string path, string counter)
    {
        Path = path;
        _counter = counter;
    }

    /// <summary>The script, to give the agent as its runc.</summary>
    public string Path { get; }

    /// <summary>Listings still to fail.</summary>
    public int ListingsLeftToFail => int.Parse(File.ReadAllText(_counter).Trim(), CultureInfo.InvariantCulture);

    public static FlakyRunc Create()
    {
        var real = HostCommand.Find("runc") ?? throw new InvalidOperationException("runc is not installed");
        var dir = Directory.CreateTempSubdirectory("grid-flaky-runc-").FullName;
        var counter = System.IO.Path.Combine(dir, "listings-to-fail");
        var script = System.IO.Path.Combine(dir, "runc");
        File.WriteAllText(counter, "0");
        File.WriteAllText(script, $$"""
            #!/bin/sh
            if [ "$1" = "list" ]; then
              left=$(cat '{{counter}}')
              if [ "$left" -gt 0 ]; then
                echo $((left - 1)) > '{{counter}}'
                echo 'stat /run/runc/grid-gone: no such file or directory' >&2
                exit 1
              fi
            fi
            exec '{{real}}' "$@"
            """);
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return new FlakyRunc(script, counter);
    }

    public void Dispose() => Directory.Delete(System.IO.Path.GetDirectoryName(Path)!, recursive: true);

    public void FailNextListings(int count) => File.WriteAllText(_counter, count.ToString(CultureInfo.InvariantCulture));
}
