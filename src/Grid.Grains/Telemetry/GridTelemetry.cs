using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Grid.Telemetry;

/// <summary>The <c>Grid.Orleans</c> activity source and meter names, and the bucket boundaries of its histograms.</summary>
public static class GridTelemetry
{
    public const string Name = "Grid.Orleans";

    public static readonly ActivitySource Source = new(Name);

    /// <summary>
    /// Buckets for request-scale durations in seconds (0.5 ms to 30 s). Without them the exporter's default
    /// boundaries (0, 5, 10, … 10,000) put every placement and every ledger append in the first bucket, and a
    /// dashboard's p99 reads ≈ 5 s whatever the real latency is.
    /// </summary>
    public static readonly InstrumentAdvice<double> Latency = new()
    {
        HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    };

    /// <summary>Buckets for failure-detection delays in seconds (a heartbeat timeout is a few seconds to minutes).</summary>
    public static readonly InstrumentAdvice<double> Detection = new()
    {
        HistogramBucketBoundaries = [0.5, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 60, 120, 300],
    };

    /// <summary>Buckets for counts of items per batch.</summary>
    public static readonly InstrumentAdvice<long> BatchSize = new()
    {
        HistogramBucketBoundaries = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
    };
}
