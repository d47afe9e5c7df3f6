using System.Diagnostics;
using System.Threading.RateLimiting;
using Grid.Host.Security;

namespace Grid.Bench.Scenarios;

/// <summary>
/// What rate limits cost a grid of many nodes between their requests: every node is a caller with a token bucket
/// (a node's shape: 1,000 requests/s, a burst of 2,000), and each takes one token every 3 s, as a heartbeating node
/// does. Process CPU per 3 s round, for the grid's <see cref="GridRateLimiter"/> (refilled when used) and, as its peer
/// in the same run, System.Threading.RateLimiting's partitioned limiter with the buckets the grid used before (refilled
/// by its timer, every partition, used or not). Nothing else runs in the process meanwhile: the baseline's silo is gone.
/// </summary>
public static class LimitsScenario
{
    private static readonly TimeSpan Round = TimeSpan.FromSeconds(3);

    public static async Task RunAsync(BenchScale scale, List<BenchRow> rows)
    {
        // At the tiny scale (the test suite's smoke run) two rounds each: the first makes the buckets and is not counted.
        var (callers, rounds) = scale.Name == "tiny" ? (2_000, 2) : (100_000, 5);
        // A node's limits as the grid sets them by default; the peer refills the same rate ten times a second, as the grid's
        // buckets on the partitioned limiter did.
        var limits = new GridLimitsOptions();
        var (perSecond, burst) = (limits.TwinRequestsPerSecond, limits.TwinBurst);
        var grid = new GridRateLimiter(TimeProvider.System);
        var grids = await RoundsAsync($"limits: {callers} callers, the grid's limiter", callers, rounds, i =>
            grid.TryAcquire(new GridRateLimiter.Caller(GridRateLimiter.CallerKind.Node, i, null), perSecond, burst, out _));

        using var partitioned = PartitionedRateLimiter.Create<long, long>(id => RateLimitPartition.GetTokenBucketLimiter(id, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst, TokensPerPeriod = perSecond / 10, ReplenishmentPeriod = TimeSpan.FromMilliseconds(100), QueueLimit = 0, AutoReplenishment = true,
        }));
        var peers = await RoundsAsync($"limits: {callers} callers, the partitioned limiter", callers, rounds, i =>
        {
            using var lease = partitioned.AttemptAcquire(i);
            return lease.IsAcquired;
        });

        // The first round makes every bucket; the steady state is the rounds after it.
        var gridCore = grids.Skip(1).Average();
        var peerCore = peers.Skip(1).Average();
        var what = $"{callers:N0} callers, one request each per 3 s";
        rows.Add(new BenchRow("limits", $"{what}, grid limiter (refilled when used)", "CPU, steady rounds", gridCore, "% of a core"));
        rows.Add(new BenchRow("limits", $"{what}, partitioned limiter (refilled by its timer)", "CPU, steady rounds", peerCore, "% of a core"));
        rows.Add(new BenchRow("limits", what, "grid limiter's CPU against the partitioned one's", gridCore / peerCore, "×", "< 1 ×", gridCore < peerCore));
    }

    /// <summary>Runs <paramref name="rounds"/> rounds of one request per caller; answers each round's CPU in % of a core.</summary>
    private static async Task<double[]> RoundsAsync(string label, int callers, int rounds, Func<long, bool> acquire)
    {
        var progress = new Progress(label, rounds);
        var process = Process.GetCurrentProcess();
        var cores = new double[rounds];
        for (var round = 0; round < rounds; round++)
        {
            process.Refresh();
            var cpu = process.TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            for (long i = 0; i < callers; i++)
            {
                if (!acquire(i))
                {
                    throw new BenchFailedException($"{label}: caller {i} refused one request in 3 s");
                }
            }

            if (Round - wall.Elapsed is { Ticks: > 0 } rest)
            {
                await Task.Delay(rest);
            }

            process.Refresh();
            cores[round] = 100 * (process.TotalProcessorTime - cpu).TotalMilliseconds / wall.Elapsed.TotalMilliseconds;
            progress.Add();
        }

        progress.Done();
        return cores;
    }
}
