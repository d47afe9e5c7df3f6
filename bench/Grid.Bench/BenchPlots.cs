using System.Globalization;
using ScottPlot;

namespace Grid.Bench;

/// <summary>One failover case for the timeline: detection and each reservation's move, in seconds after the last heartbeat.</summary>
public sealed record FailoverTimeline(string Case, double Detected, IReadOnlyList<double> MovedAt);

/// <summary>
/// The report's pictures, drawn with ScottPlot (SVG) from the rows of the run: placement rate and p99 against node
/// count with the ratio to the baseline, the failover timeline, heartbeat rate and latency, memory per grain.
/// </summary>
public static class BenchPlots
{
    private const int Width = 860;
    private const int Height = 440;

    /// <summary>The SVG files for the rows present (file name → SVG).</summary>
    public static IEnumerable<(string File, string Alt, string Svg)> Draw(IReadOnlyList<BenchRow> rows, IReadOnlyList<FailoverTimeline> failovers)
    {
        var placement = Cases(rows, "placement", "placements/s (as the API places)", "in memory");
        if (placement.Count > 0)
        {
            yield return ("bench-placement.svg", "placements per second and p99 latency against node count",
                RateAndLatency("Placement (grain API, in memory): rate and p99 against node count", placement,
                    rows, "placement", "placements/s", c => c.Split(',')[0]));
        }

        if (failovers.Count > 0)
        {
            yield return ("bench-failover.svg", "failover timeline", Failover(failovers));
        }

        var heartbeat = Cases(rows, "heartbeat", "heartbeats/s (HTTP)", "");
        if (heartbeat.Count > 0)
        {
            yield return ("bench-heartbeat.svg", "heartbeat rate and p99 latency",
                RateAndLatency("Heartbeats over HTTP: rate and p99", heartbeat, rows, "heartbeat", "heartbeats/s", c => c));
        }

        var memory = rows.Where(r => r.Scenario == "memory" && r.Unit == "B").ToList();
        if (memory.Count > 0)
        {
            yield return ("bench-memory.svg", "memory per grain", Memory(memory));
        }
    }

    private static List<BenchRow> Cases(IReadOnlyList<BenchRow> rows, string scenario, string metric, string caseSuffix) =>
        [.. rows.Where(r => r.Scenario == scenario && r.Metric == metric && r.Case.EndsWith(caseSuffix, StringComparison.Ordinal))];

    private static double Value(IReadOnlyList<BenchRow> rows, string scenario, string @case, string metric) =>
        rows.FirstOrDefault(r => r.Scenario == scenario && r.Case == @case && r.Metric == metric)?.Value ?? double.NaN;

    /// <summary>Rate on the left axis, p99 on the right, each point labelled with its ratio to the baseline.</summary>
    private static string RateAndLatency(
        string title, List<BenchRow> cases, IReadOnlyList<BenchRow> rows, string scenario, string rateLabel, Func<string, string> tick)
    {
        var plot = new Plot();
        double[] xs = [.. cases.Select((_, i) => (double)i)];
        double[] rates = [.. cases.Select(c => c.Value)];
        double[] p99 = [.. cases.Select(c => Value(rows, scenario, c.Case, "p99 latency"))];
        var bars = plot.Add.Bars(xs, rates);
        bars.LegendText = $"{rateLabel} (left axis)";
        var latency = plot.Add.Scatter(xs, p99);
        latency.LegendText = "p99 latency, ms (right axis)";
        latency.Axes.YAxis = plot.Axes.Right;
        latency.LineWidth = 2;
        latency.MarkerSize = 9;
        for (var i = 0; i < cases.Count; i++)
        {
            var ratio = Value(rows, scenario, cases[i].Case, "ratio to baseline");
            var label = $"{rates[i].ToString("N0", CultureInfo.InvariantCulture)}/s"
                + (double.IsNaN(ratio) ? "" : $"\n{ratio.ToString("0.000", CultureInfo.InvariantCulture)} × baseline");
            var text = plot.Add.Text(label, xs[i], rates[i]);
            text.Alignment = Alignment.LowerCenter;
        }

        plot.Axes.Bottom.SetTicks(xs, [.. cases.Select(c => tick(c.Case))]);
        plot.Axes.Left.Label.Text = rateLabel;
        plot.Axes.Right.Label.Text = "p99 latency (ms)";
        plot.Axes.SetLimitsY(0, rates.DefaultIfEmpty(1).Max() * 1.35, plot.Axes.Left);
        plot.Axes.SetLimitsY(0, p99.Where(double.IsFinite).DefaultIfEmpty(1).Max() * 1.35, plot.Axes.Right);
        plot.Axes.SetLimitsX(-0.6, cases.Count - 0.4);
        plot.Title(title);
        plot.ShowLegend(Alignment.UpperLeft);
        return plot.GetSvgXml(Width, Height);
    }

    /// <summary>Per case: silent until declared down (a bar from the last heartbeat), then each reservation active elsewhere (a dot).</summary>
    private static string Failover(IReadOnlyList<FailoverTimeline> failovers)
    {
        var plot = new Plot();
        for (var i = 0; i < failovers.Count; i++)
        {
            var row = failovers[i];
            var silent = plot.Add.Line(0, i, row.Detected, i);
            silent.LineWidth = 10;
            silent.LineColor = Colors.Orange;
            silent.LegendText = i == 0 ? "last heartbeat → declared down" : "";
            if (row.MovedAt.Count > 0)
            {
                double[] times = [.. row.MovedAt];
                double[] lane = [.. row.MovedAt.Select(_ => (double)i)];
                var moved = plot.Add.Markers(times, lane);
                moved.MarkerSize = 6;
                moved.Color = Colors.SeaGreen;
                moved.LegendText = i == 0 ? "a reservation active elsewhere" : "";
                var last = row.MovedAt.Max();
                var text = plot.Add.Text(
                    $"down at {row.Detected.ToString("0.00", CultureInfo.InvariantCulture)} s, all {row.MovedAt.Count} moved at {last.ToString("0.00", CultureInfo.InvariantCulture)} s",
                    0, i + 0.12);
                text.Alignment = Alignment.LowerLeft;
            }
        }

        plot.Axes.Left.SetTicks([.. failovers.Select((_, i) => (double)i)], [.. failovers.Select(f => f.Case)]);
        plot.Axes.Bottom.Label.Text = "seconds after the last heartbeat";
        plot.Axes.SetLimitsY(-0.6, failovers.Count - 0.2);
        plot.Axes.SetLimitsX(0, failovers.Max(f => f.MovedAt.DefaultIfEmpty(f.Detected).Max()) * 1.45);
        plot.Title("Failover timeline");
        plot.ShowLegend(Alignment.LowerRight);
        return plot.GetSvgXml(Width, Height);
    }

    private static string Memory(List<BenchRow> memory)
    {
        var plot = new Plot();
        double[] xs = [.. memory.Select((_, i) => (double)i)];
        plot.Add.Bars(xs, [.. memory.Select(r => r.Value)]);
        for (var i = 0; i < memory.Count; i++)
        {
            var text = plot.Add.Text($"{memory[i].Value.ToString("N0", CultureInfo.InvariantCulture)} B", xs[i], memory[i].Value);
            text.Alignment = Alignment.LowerCenter;
        }

        plot.Axes.Bottom.SetTicks(xs, [.. memory.Select(r => r.Metric.Replace("bytes per ", "", StringComparison.Ordinal).Replace(", ", "\n", StringComparison.Ordinal))]);
        plot.Axes.Left.Label.Text = "bytes of heap per grain";
        plot.Axes.SetLimitsY(0, memory.Max(r => r.Value) * 1.25);
        plot.Title($"Memory per grain ({memory[0].Case})");
        return plot.GetSvgXml(Width, Height);
    }
}
