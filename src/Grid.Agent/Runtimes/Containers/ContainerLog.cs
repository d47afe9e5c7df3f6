using System.Globalization;
using System.Text;

namespace Grid.Agent.Runtimes.Containers;

/// <summary>New output of a workload since an offset, and the offset after it.</summary>
/// <param name="Text">The output (UTF-8; a character cut at the edge shows as a replacement character).</param>
/// <param name="Next">Offset to read from next time.</param>
internal sealed record LogChunk(string Text, long Next);

/// <summary>
/// A container's output file (<c>output.log</c>, appended by the shell that runs runc), kept to its last
/// <see cref="Keep"/> bytes. Offsets are logical (bytes ever written), so readers are not confused when the
/// file is cut: the bytes dropped so far are counted in <c>output.dropped</c>.
/// </summary>
/// <param name="folder">The instance folder.</param>
internal sealed class ContainerLog(string folder)
{
    /// <summary>Bytes kept after a cut.</summary>
    public const int Keep = 1 << 20;

    /// <summary>Most bytes one read answers (one heartbeat's share).</summary>
    public const int MaxChunk = 16 << 10;

    /// <summary>The output file.</summary>
    public string File => Path.Combine(folder, "output.log");

    private string DroppedFile => Path.Combine(folder, "output.dropped");

    /// <summary>Cuts the file to its last <see cref="Keep"/> bytes once it holds twice that.</summary>
    public void Trim()
    {
        var info = new FileInfo(File);
        if (!info.Exists || info.Length < 2L * Keep)
        {
            return;
        }

        // The writer appends (O_APPEND): after the rewrite it goes on at the new end.
        using var stream = new FileStream(File, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        var tail = new byte[Keep];
        stream.Seek(-Keep, SeekOrigin.End);
        stream.ReadExactly(tail);
        var dropped = stream.Length - Keep;
        stream.SetLength(0);
        stream.Write(tail);
        System.IO.File.WriteAllText(DroppedFile, (Dropped() + dropped).ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Output from logical offset <paramref name="offset"/>, at most <paramref name="max"/> bytes; null when nothing is new.</summary>
    public LogChunk? Read(long offset, int max = MaxChunk)
    {
        if (!System.IO.File.Exists(File))
        {
            return null;
        }

        using var stream = new FileStream(File, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var dropped = Dropped();
        var start = Math.Max(offset - dropped, 0);
        if (start >= stream.Length)
        {
            return null;
        }

        stream.Seek(start, SeekOrigin.Begin);
        var buffer = new byte[(int)Math.Min(max, stream.Length - start)];
        stream.ReadExactly(buffer);
        return new LogChunk(Encoding.UTF8.GetString(buffer), dropped + start + buffer.Length);
    }

    /// <summary>The whole kept output, for the runtime's own diagnosis (a failed exec).</summary>
    public string Tail(int max = 4096)
    {
        if (!System.IO.File.Exists(File))
        {
            return "";
        }

        using var stream = new FileStream(File, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        stream.Seek(Math.Max(0, stream.Length - max), SeekOrigin.Begin);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private long Dropped() =>
        System.IO.File.Exists(DroppedFile) && long.TryParse(System.IO.File.ReadAllText(DroppedFile), CultureInfo.InvariantCulture, out var n) ? n : 0;
}
