using System.Diagnostics;

namespace Grid.Bench;

/// <summary>Runs an operation many times from concurrent workers and reports rate and latency percentiles.</summary>
public static class Measure
{
    /// <summary>
    /// A run's rate and latencies, and what the process spent on it: CPU time per operation (every thread, the
    /// workers' calls too), managed bytes allocated per operation, and the share of wall time paused for GC.
    /// </summary>
    public sealed record Outcome(long Count, TimeSpan Elapsed, double PerSecond, double P50Ms, double P99Ms, long Failures,
        double CpuMicroseconds = 0, double AllocatedBytes = 0, double GcPauseShare = 0);

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

    /// <summary><paramref name="operation"/> returns false for a failure that the scenario counts.</summary>
    public static async Task<Outcome> RunAsync(int count, int concurrency, Func<long, Task<bool>> operation, Progress progress)
    {
        var latencies = new double[count];
        var next = -1L;
        var failures = 0L;
        var spent = Spent.Now();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            long i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var started = Stopwatch.GetTimestamp();
                if (!await operation(i))
                {
                    Interlocked.Increment(ref failures);
                }

                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                progress.Add();
            }
        })));
        clock.Stop();
        progress.Done();
        return spent.Into(Summarize(latencies, clock.Elapsed, failures));
    }

    /// <summary>Runs from concurrent workers until <paramref name="duration"/> has passed.</summary>
    public static async Task<Outcome> RunForAsync(TimeSpan duration, int concurrency, Func<int, long, Task<bool>> operation, Progress progress)
    {
        var perWorker = new List<double>[concurrency];
        var failures = 0L;
        var spent = Spent.Now();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
        {
            var mine = perWorker[worker] = new List<double>(4096);
            for (long n = 0; clock.Elapsed < duration; n++)
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
        progress.Done();
        return spent.Into(Summarize([.. perWorker.SelectMany(l => l)], clock.Elapsed, failures));
    }

    private static Outcome Summarize(double[] latencies, TimeSpan elapsed, long failures)
    {
        Array.Sort(latencies);
        double At(double q) => latencies.Length == 0 ? 0 : latencies[Math.Min(latencies.Length - 1, (int)(q * latencies.Length))];
        return new Outcome(latencies.Length, elapsed, latencies.Length / elapsed.TotalSeconds, At(0.50), At(0.99), failures);
    }
}
