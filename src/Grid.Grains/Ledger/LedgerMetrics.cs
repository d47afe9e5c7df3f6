using System.Diagnostics.Metrics;
using Grid.Telemetry;

namespace Grid.Ledger;

/// <summary>Ledger instruments on the <c>Grid.Orleans</c> meter: entries appended, batch sizes and append latency.</summary>
public sealed class LedgerMetrics
{
    private readonly Counter<long> _appends;
    private readonly Histogram<double> _latency;
    private readonly Histogram<long> _batch;
    private readonly Counter<long> _checkpoints;
    private readonly Counter<long> _refused;

    public LedgerMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(GridTelemetry.Name);
        _appends = meter.CreateCounter<long>("grid.ledger.appends", description: "Entries appended to the ledger (idempotent repeats not counted).");
        _latency = meter.CreateHistogram<double>("grid.ledger.append.duration", unit: "s", description: "From an append's arrival at the ledger to its durable write.", advice: GridTelemetry.Latency);
        _batch = meter.CreateHistogram<long>("grid.ledger.batch.size", description: "Entries per group commit.", advice: GridTelemetry.BatchSize);
        _checkpoints = meter.CreateCounter<long>("grid.ledger.checkpoints", description: "Signed checkpoints written.");
        _refused = meter.CreateCounter<long>("grid.ledger.refused", description: "Group commits the store refused as conflicting (an event id already stored that the ledger grain no longer remembered, or another writer); each is retried.");
    }

    public void Appended(int entries)
    {
        _appends.Add(entries);
        _batch.Record(entries);
    }

    public void AppendLatency(TimeSpan elapsed) => _latency.Record(elapsed.TotalSeconds);

    public void Checkpointed() => _checkpoints.Add(1);

    public void Refused() => _refused.Add(1);
}
