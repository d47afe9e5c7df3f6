using System.Text;

namespace Grid.Workloads;

/// <summary>
/// The newest output of a workload, bounded to <see cref="MaxChars"/> characters: appended from the node's report
/// deltas, the oldest dropped first. Memory only; a new activation starts empty (the agent keeps the full log).
/// </summary>
public sealed class LogTail
{
    /// <summary>At most this much output is kept (64 KiB of ASCII).</summary>
    public const int MaxChars = 64 * 1024;

    private readonly StringBuilder _text = new();

    /// <summary>Appends <paramref name="delta"/>, dropping the oldest output beyond the bound.</summary>
    public void Append(string? delta)
    {
        if (string.IsNullOrEmpty(delta))
        {
            return;
        }

        if (delta.Length >= MaxChars)
        {
            _text.Clear().Append(delta, delta.Length - MaxChars, MaxChars);
            return;
        }

        _text.Append(delta);
        if (_text.Length > MaxChars)
        {
            _text.Remove(0, _text.Length - MaxChars);
        }
    }

    /// <summary>The last <paramref name="lines"/> lines (a final line without its newline counts as one).</summary>
    public string Last(int lines)
    {
        var text = _text.ToString();
        if (lines <= 0 || text.Length == 0)
        {
            return "";
        }

        // Counted from the end; a trailing newline ends the last line rather than starting an empty one.
        var end = text.EndsWith('\n') ? text.Length - 1 : text.Length;
        var start = end;
        for (var found = 0; start > 0; start--)
        {
            if (text[start - 1] == '\n' && ++found == lines)
            {
                break;
            }
        }

        return text[start..];
    }
}
