namespace Grid.Bench;

/// <summary>
/// Progress of one phase on stderr: on a terminal a one-line bar redrawn at most ten times a second; when stderr
/// is redirected (CI logs, files) one line when the phase starts and one when it ends, so a log does not fill
/// with thousands of redraws.
/// </summary>
public sealed class Progress
{
    private static readonly bool OnTerminal = !Console.IsErrorRedirected;
    private readonly string _label;
    private readonly long _total;
    private readonly long _started = Environment.TickCount64;
    private long _done;
    private long _lastDraw;

    /// <summary>What is being done (the window log names windows by it).</summary>
    public string Label => _label;

    public Progress(string label, long total)
    {
        _label = label;
        _total = total;
        if (!OnTerminal)
        {
            Console.Error.WriteLine($"{label} …");
        }
    }

    public void Add(long count = 1)
    {
        var done = Interlocked.Add(ref _done, count);
        if (!OnTerminal)
        {
            return;
        }

        var now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _lastDraw) > 100 || done >= _total)
        {
            Interlocked.Exchange(ref _lastDraw, now);
            Draw(done);
        }
    }

    public void Done()
    {
        if (!OnTerminal)
        {
            Console.Error.WriteLine($"{_label} done in {(Environment.TickCount64 - _started) / 1000.0:0.0} s");
            return;
        }

        Draw(_total);
        Console.Error.WriteLine();
    }

    private void Draw(long done)
    {
        const int width = 30;
        var share = _total == 0 ? 1 : Math.Min(1, (double)done / _total);
        var filled = (int)(share * width);
        Console.Error.Write($"\r{_label,-34} [{new string('#', filled)}{new string('.', width - filled)}] {share,4:P0}");
    }
}
