namespace Grid.Bench;

/// <summary>One measured number, with the target it is compared with (if any).</summary>
public sealed record BenchRow(
    string Scenario,
    string Case,
    string Metric,
    double Value,
    string Unit,
    string? Target = null,
    bool? Met = null);
