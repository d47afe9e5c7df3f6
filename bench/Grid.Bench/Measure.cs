using System.Diagnostics;

namespace Grid.Bench;

/// <summary>Runs an operation many times from concurrent workers and reports rate and latency percentiles.</summary>
public static class Measure
{
    /// <summary>
    /// A run's rate and latencies, and what the process spent on it: CPU time per operation (every thread, the
    /// workers' calls too), managed bytes allocated per operation, and the share of wall time paused for GC. An
    /// interleaved run also has the rate of each of its windows (<see cref="TurnRates"/>).
    /// </summary>
    public sealed record Outcome(long Count, TimeSpan Elapsed, double PerSecond, double P50Ms, double P99Ms, long Failures,
        double CpuMicroseconds = 0, double AllocatedBytes = 0, double GcPauseShare = 0)
    {
        /// <summary>Operations per second in each window of the run, in order (one window for a run that is not interleaved).</summary>
        public IReadOnlyList<double> TurnRates { get; init; } = [];
    }

    /// <summary>
    /// The lowest and the highest ratio of <paramref name="case"/> to <paramref name="ceiling"/> over the turns of one
    /// interleaved run (turn i of the one against turn i of the other): how far one turn's ratio strays from the run's,
    /// which is what separates a change from this machine's noise.
    /// </summary>
    public static (double Lowest, double Highest) TurnRatios(Outcome @case, Outcome ceiling)
    {
        var ratios = @case.TurnRates.Zip(ceiling.TurnRates, (a, b) => b > 0 ? a / b : 0).ToArray();
        return ratios.Length == 0 ? (0, 0) : (ratios.Min(), ratios.Max());
    }

    /// <summary>What the process spent while a run went on: CPU, allocation and GC pauses.</summary>
    private readonly record struct Spent(TimeSpan Cpu, long Allocated, TimeSpan Paused)
    {
        public static Spent Now() => new(Process.GetCurrentProcess().TotalProcessorTime, GC.GetTotalAllocatedBytes(), GC.GetTotalPauseDuration());

        public Outcome Into(Outcome outcome)
        {
            var now = Now();
            var count = Math.Max(outcome.Count, 1);
            return outcome with
            {
                CpuMicroseconds = (now.Cpu - Cpu).TotalMicroseconds / count,
                AllocatedBytes = (double)(now.Allocated - Allocated) / count,
                GcPauseShare = (now.Paused - Paused) / outcome.Elapsed,
            };
        }
    }

    /// <summary>
    /// Where the windows of interleaved measurements are written when set (<c>--windows FILE</c>): one line per window,
    /// <c>window &lt;label&gt;#&lt;operation&gt; &lt;start&gt; &lt;end&gt; &lt;operations&gt;</c>, times in nanoseconds of the
    /// monotonic clock (what <c>perf record -k CLOCK_MONOTONIC</c> stamps its samples with), so a profile of a run can
    /// be split by window and each case's samples counted per operation (<c>bench/Grid.Bench/windows.py</c>).
    /// </summary>
    public static TextWriter? WindowLog { get; set; }

    private static void LogWindow(Progress progress, int operation, long started, long count)
    {
        if (WindowLog is { } log)
        {
            var ns = 1e9 / Stopwatch.Frequency;
            lock (log)
            {
                log.WriteLine(FormattableString.Invariant(
                    $"window {progress.Label.Replace(' ', '_')}#{operation} {(long)(started * ns)} {(long)(Stopwatch.GetTimestamp() * ns)} {count}"));
                log.Flush();
            }
        }
    }

    /// <summary><paramref name="operation"/> returns false for a failure that the scenario counts.</summary>
    public static async Task<Outcome> RunAsync(int count, int concurrency, Func<long, Task<bool>> operation, Progress progress)
    {
        var tally = new Tally();
        await RunCountAsync(0, count, concurrency, operation, tally, progress);
        progress.Done();
        return tally.Outcome();
    }

    /// <summary>Runs from concurrent workers until <paramref name="duration"/> has passed.</summary>
    public static async Task<Outcome> RunForAsync(TimeSpan duration, int concurrency, Func<int, long, Task<bool>> operation, Progress progress)
    {
        var tally = new Tally();
        await RunWindowAsync(duration, concurrency, operation, tally);
        progress.Done();
        return tally.Outcome();
    }

    /// <summary>
    /// Runs each of <paramref name="operations"/> (by the same workers) in turn, in <paramref name="rounds"/> windows of
    /// <paramref name="window"/> each, and sums each one's windows: cases compared with one another in one run see the
    /// same machine, even when its speed drifts over a run (on this 2-core VM the same case measured 0.38 × and 0.73 ×
    /// its ceiling in two report runs when the ceiling was measured once, minutes before it).
    /// </summary>
    public static async Task<Outcome[]> InterleaveAsync(
        TimeSpan window, int rounds, int concurrency, IReadOnlyList<Func<int, long, Task<bool>>> operations, Progress progress)
    {
        var tallies = operations.Select(_ => new Tally()).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var i = 0; i < operations.Count; i++)
            {
                var (started, before) = (Stopwatch.GetTimestamp(), tallies[i].Count);
                await RunWindowAsync(window, concurrency, operations[i], tallies[i]);
                LogWindow(progress, i, started, tallies[i].Count - before);
            }

            progress.Add();
        }

        progress.Done();
        return [.. tallies.Select(t => t.Outcome())];
    }

    /// <summary>
    /// <paramref name="count"/> operations of <paramref name="counted"/> in <paramref name="rounds"/> slices, each
    /// followed by <paramref name="timed"/> for as long as that slice took (see <see cref="InterleaveAsync"/>).
    /// </summary>
    public static async Task<(Outcome Counted, Outcome Timed)> InterleaveCountAsync(
        int count, int rounds, int concurrency, Func<long, Task<bool>> counted, Func<int, long, Task<bool>> timed, Progress progress)
    {
        var (first, second) = (new Tally(), new Tally());
        var next = 0L;
        for (var round = 0; round < rounds; round++)
        {
            var slice = (count - next) / (rounds - round);
            var started = Stopwatch.GetTimestamp();
            var took = await RunCountAsync(next, next + slice, concurrency, counted, first);
            LogWindow(progress, 0, started, slice);
            next += slice;
            (started, var before) = (Stopwatch.GetTimestamp(), second.Count);
            await RunWindowAsync(took, concurrency, timed, second);
            LogWindow(progress, 1, started, second.Count - before);
            progress.Add();
        }

        progress.Done();
        return (first.Outcome(), second.Outcome());
    }

    /// <summary>What windows of one operation add up to.</summary>
    private sealed class Tally
    {
        private readonly List<double> _latencies = [];
        private readonly List<double> _rates = [];

        /// <summary>Operations measured so far.</summary>
        public int Count => _latencies.Count;
        private TimeSpan _elapsed, _cpu, _paused;
        private long _allocated, _failures;

        public void Add(IEnumerable<double> latencies, TimeSpan elapsed, long failures, Spent before)
        {
            var after = Spent.Now();
            var first = _latencies.Count;
            _latencies.AddRange(latencies);
            _rates.Add(elapsed > TimeSpan.Zero ? (_latencies.Count - first) / elapsed.TotalSeconds : 0);
            (_elapsed, _failures) = (_elapsed + elapsed, _failures + failures);
            (_cpu, _allocated, _paused) = (_cpu + (after.Cpu - before.Cpu), _allocated + (after.Allocated - before.Allocated), _paused + (after.Paused - before.Paused));
        }

        public Outcome Outcome()
        {
            var count = Math.Max(_latencies.Count, 1);
            return Summarize([.. _latencies], _elapsed, _failures) with
            {
                CpuMicroseconds = _cpu.TotalMicroseconds / count,
                AllocatedBytes = (double)_allocated / count,
                GcPauseShare = _elapsed > TimeSpan.Zero ? _paused / _elapsed : 0,
                TurnRates = [.. _rates],
            };
        }
    }

    private static async Task RunWindowAsync(TimeSpan window, int concurrency, Func<int, long, Task<bool>> operation, Tally tally)
    {
        var perWorker = new List<double>[concurrency];
        var failures = 0L;
        var spent = Spent.Now();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
        {
            var mine = perWorker[worker] = new List<double>(1024);
            for (long n = 0; clock.Elapsed < window; n++)
            {
                var started = Stopwatch.GetTimestamp();
                if (!await operation(worker, n))
                {
                    Interlocked.Increment(ref failures);
                }

                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        })));
        clock.Stop();
        tally.Add(perWorker.SelectMany(l => l), clock.Elapsed, failures, spent);
    }

    private static async Task<TimeSpan> RunCountAsync(long from, long to, int concurrency, Func<long, Task<bool>> operation, Tally tally, Progress? progress = null)
    {
        var latencies = new double[to - from];
        var next = from - 1;
        var failures = 0L;
        var spent = Spent.Now();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            long i;
            while ((i = Interlocked.Increment(ref next)) < to)
            {
                var started = Stopwatch.GetTimestamp();
                if (!await operation(i))
                {
                    Interlocked.Increment(ref failures);
                }

                latencies[i - from] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                progress?.Add();
            }
        })));
        clock.Stop();
        tally.Add(latencies, clock.Elapsed, failures, spent);
        return clock.Elapsed;
    }

    private static Outcome Summarize(double[] latencies, TimeSpan elapsed, long failures)
    {
        Array.Sort(latencies);
        double At(double q) => latencies.Length == 0 ? 0 : latencies[Math.Min(latencies.Length - 1, (int)(q * latencies.Length))];
        return new Outcome(latencies.Length, elapsed, latencies.Length / elapsed.TotalSeconds, At(0.50), At(0.99), failures);
    }
}
