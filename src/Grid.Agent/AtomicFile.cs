namespace Grid.Agent;

/// <summary>Writes files so that a crash mid-write leaves the old content, never a torn file.</summary>
internal static class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="content"/>; with <paramref name="mode"/> the file is created with those rights, so a
    /// secret is never readable by others, not even for the moment between writing and restricting it.
    /// </summary>
    public static void WriteAllText(string path, string content, UnixFileMode? mode = null)
    {
        var temp = path + ".tmp";
        File.Delete(temp);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (mode is { } m && !OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = m;
        }

        using (var writer = new StreamWriter(temp, System.Text.Encoding.UTF8, options))
        {
            writer.Write(content);
        }

        File.Move(temp, path, overwrite: true);
    }
}
