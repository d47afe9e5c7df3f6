using Grid.Billing;
using Grid.Ledger;
using Microsoft.Extensions.Options;

namespace Grid.Reservations;

/// <summary>The silo services a reservation's <see cref="ReservationBilling"/> uses: one constructor parameter of the grain, not four.</summary>
/// <param name="Options">Cycles, grace, settle delay and the farmers' share.</param>
/// <param name="Metrics">Bills and grace counts.</param>
/// <param name="Ledger">The silo's way into the ledger (batches this silo's appends).</param>
/// <param name="Clock">Grid time: meters, periods and grace run on it.</param>
public sealed record ReservationBillingServices(IOptions<BillingOptions> Options, BillingMetrics Metrics, LedgerAppender Ledger, GridClock Clock);
