using System.Globalization;
using System.Text;

namespace Grid.Agent.Runtimes.Volumes;

/// <summary>One line of <c>/proc/self/mountinfo</c>: what is mounted where.</summary>
/// <param name="MountPoint">The folder it is mounted on.</param>
/// <param name="Source">What is mounted (a loop device such as <c>/dev/loop3</c>).</param>
/// <param name="FileSystem">Its filesystem type.</param>
internal sealed record MountEntry(string MountPoint, string Source, string FileSystem);

/// <summary>Reads the kernel's mount table, so adoption trusts what is mounted, not only what a state file says.</summary>
internal static class MountTable
{
    /// <summary>The mounts this process sees.</summary>
    public static IReadOnlyList<MountEntry> Read(string path = "/proc/self/mountinfo") =>
        File.Exists(path) ? [.. File.ReadLines(path).Select(Parse).OfType<MountEntry>()] : [];

    /// <summary>What is mounted on <paramref name="mountPoint"/> (the last mount wins, as for path lookups); null when nothing.</summary>
    public static MountEntry? At(string mountPoint)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        return Read().LastOrDefault(m => m.MountPoint == full);
    }

    // Format (proc(5)): id parent major:minor root mountpoint options [optional fields…] - fstype source superoptions.
    private static MountEntry? Parse(string line)
    {
        var fields = line.Split(' ');
        var separator = Array.IndexOf(fields, "-");
        return fields.Length > 4 && separator > 4 && separator + 2 < fields.Length
            ? new MountEntry(Unescape(fields[4]), Unescape(fields[separator + 2]), fields[separator + 1])
            : null;
    }

    // The kernel writes space, tab, newline and backslash in paths as \ooo octal escapes.
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var text = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length
                && int.TryParse(field.AsSpan(i + 1, 3), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                text.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }

        return text.ToString();
    }
}
