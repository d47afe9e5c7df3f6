namespace Grid.Agent;

/// <summary>Writes files so that a crash mid-write leaves the old content, never a torn file.</summary>
internal static class AtomicFile
{
    public static void WriteAllText(string path, string content, UnixFileMode? mode = null)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, content);
        if (mode is { } m && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, m);
        }

        File.Move(temp, path, overwrite: true);
    }
}
