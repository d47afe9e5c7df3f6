namespace Grid.Bench;

/// <summary>A one-line progress bar on stderr, redrawn at most ten times a second.</summary>
public sealed class Progress(string label, long total)
{
    private long _done;
    private long _lastDraw;

    public void Add(long count = 1)
    {
        var done = Interlocked.Add(ref _done, count);
        var now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _lastDraw) > 100 || done >= total)
        {
            Interlocked.Exchange(ref _lastDraw, now);
            Draw(done);
        }
    }

    public void Done()
    {
        Draw(total);
        Console.Error.WriteLine();
    }

    private void Draw(long done)
    {
        const int width = 30;
        var share = total == 0 ? 1 : Math.Min(1, (double)done / total);
        var filled = (int)(share * width);
        Console.Error.Write($"\r{label,-34} [{new string('#', filled)}{new string('.', width - filled)}] {share,4:P0}");
    }
}
