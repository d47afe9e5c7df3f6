using System.Collections.Immutable;
using Grid.Billing;
using Grid.Grains;
using Grid.Reservations;
using Microsoft.Extensions.Logging;

namespace Grid.Rents;

/// <summary>
/// The rent of one node (key: node id). The node grain holds the lock that keeps other twins off the node; this grain
/// holds the contract and its money: a meter over the node's whole capacity at the discounted price, running while the
/// node is up (told by the node at each status change, reconciled at every tick), billed through the same ledger path
/// as reservations (<see cref="ReservationBillingServices.RecordAsync"/>: the farmer's share to the farm's owner).
/// </summary>
/// <remarks>
/// Billing ticks come from a reminder (every cycle, at least a minute) and bill up to the settle delay ago, so a node
/// declared down later has its meter stopped at its last heartbeat first. Prepaid: a rent needs a balance covering one
/// cycle; an unpaid bill stops the meter (grace, the lock kept) until a deposit covers it, and ends the rent after the
/// grace period. Postpaid: everything is billed, nothing refused.
/// </remarks>
public sealed partial class NodeRentGrain(
    [PersistentState("rent", GridStorage.Name)] IPersistentState<NodeRentState> state,
    ReservationBillingServices services,
    PriceBook prices,
    ILogger<NodeRentGrain> logger) : Grain, INodeRentGrain, IRemindable
{
    private const string Reminder = "rent-billing";

    private long NodeId => this.GetPrimaryKeyLong();

    private BillingOptions Options => services.Options.Value;

    private ReservationMeter Meter => state.State.Meter;

    private INodeGrain Node => GrainFactory.GetGrain<INodeGrain>(NodeId);

    public async Task<RentContract> RentAsync(long twinId, long contractId)
    {
        if (state.State.Contract is { } held)
        {
            return held.Id == contractId ? held
                : throw new GridRequestException(409, "Node rented", held.TwinId == twinId
                    ? $"Node {NodeId} is already rented by you (rent contract {held.Id})."
                    : $"Node {NodeId} is rented by another twin (rent contract {held.Id}).");
        }

        var node = await Node.GetSummaryAsync() ?? throw new GridRequestException(404, "Not found", $"Node {NodeId} was not found.");
        var price = RentPricing.PricePerHour(node.Total, prices.For(node.FarmId), node.Certification == NodeCertification.Certified, Options.DedicatedDiscountPpm,
            Options.GpuPrice);
        await RequireFundsAsync(twinId, price);

        var now = services.Clock.UtcNow;
        var contract = new RentContract(contractId, NodeId, twinId, node.FarmId, ReservationMeter.Second(now), price, Options.Currency);
        // The contract is durable before the lock is taken: a lock never exists without the contract that bills it.
        state.State = new NodeRentState
        {
            Contract = contract,
            Total = node.Total with { Ipv4 = 0 },
            Meter = new ReservationMeter { PricePerHour = price, FarmId = node.FarmId, FarmerTwinId = node.TwinId, BilledUntil = contract.CreatedAt },
        };
        await state.WriteStateAsync();

        var answer = await Node.SetRenterAsync(twinId, contractId);
        if (answer.Outcome != RentLockOutcome.Done)
        {
            state.State = new NodeRentState();
            await state.WriteStateAsync();
            throw answer.Outcome switch
            {
                RentLockOutcome.OtherTwinsReservations => new GridRequestException(409, "Node in use",
                    $"Node {NodeId} holds other twins' reservations ({string.Join(", ", answer.ReservationIds)}): only a node without them can be rented."),
                RentLockOutcome.RentedByOther => new GridRequestException(409, "Node rented", $"Node {NodeId} is rented (rent contract {answer.RentContractId})."),
                _ => new GridRequestException(404, "Not found", $"Node {NodeId} was not found."),
            };
        }

        if (answer.Summary?.Status is NodeStatus.Up)
        {
            Meter.Start(NodeId, now);
        }

        await state.WriteStateAsync();
        await services.Ledger.AppendAsync(RentEvents.RentedEntry(contract));
        await GrainFactory.GetGrain<IRentRegistryGrain>(0).AddAsync(contract);
        var period = Options.Cycle < TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1) : Options.Cycle;
        await this.RegisterOrUpdateReminder(Reminder, period, period);
        await TellReservationsAsync(answer.ReservationIds, rented: true);
        LogRented(logger, NodeId, contractId, twinId, price);
        return contract;
    }

    public async Task<bool> ReleaseAsync(long? byTwinId)
    {
        if (state.State.Contract is not { } contract || (byTwinId is { } twin && twin != contract.TwinId))
        {
            return false;
        }

        await EndAsync(byTwinId is null ? RentEvents.CauseOperator : RentEvents.CauseRenter);
        return true;
    }

    public Task<RentContract?> GetAsync() => Task.FromResult(state.State.Contract);

    public Task<ImmutableArray<Bill>> GetBillsAsync() => Task.FromResult<ImmutableArray<Bill>>([.. Meter.Bills.AsEnumerable().Reverse()]);

    public async Task NodeStatusAsync(bool up, DateTimeOffset at)
    {
        if (state.State.Contract is null)
        {
            return;
        }

        if (up && state.State.GraceSince is null)
        {
            Meter.Start(NodeId, at);
        }
        else if (!up)
        {
            Meter.Stop(at);
        }

        await state.WriteStateAsync();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (state.State.Contract is null)
        {
            if (await this.GetReminder(reminderName) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }

            return;
        }

        await ReconcileAsync();
        await BillAsync(services.Clock.UtcNow - Options.SettleDelay);
        await CheckFundsAsync();
    }

    /// <summary>The node's status as the rent last heard it, checked against the node itself (a status call may have been lost).</summary>
    private async Task ReconcileAsync()
    {
        var node = await Node.GetSummaryAsync();
        var now = services.Clock.UtcNow;
        if (node?.Status == NodeStatus.Up && Meter.Open is null && state.State.GraceSince is null)
        {
            Meter.Start(NodeId, now);
        }
        else if (node?.Status == NodeStatus.Down && Meter.Open is not null)
        {
            Meter.Stop(node.StatusChangedAt ?? now);
        }
    }

    /// <summary>Bills <c>(BilledUntil, to]</c> as one ledger entry (nothing when nothing was served), then the cursor.</summary>
    private async Task BillAsync(DateTimeOffset to)
    {
        var contract = state.State.Contract!;
        if (to <= Meter.BilledUntil)
        {
            return;
        }

        var bill = Meter.Compute(contract.Id, contract.TwinId, state.State.Total, to) is { } computed
            ? computed with { RentContractId = contract.Id, BillId = $"rent:{contract.Id}:bill:{computed.Sequence}" }
            : null;
        if (bill is not null)
        {
            (bill, _) = await services.RecordAsync(bill, Meter.FarmerOf);
        }

        Meter.Advance(bill?.To ?? to, bill);
        await state.WriteStateAsync();
    }

    /// <summary>Prepaid: an unpaid rent stops its meter (grace), runs again once paid, and ends after the grace period.</summary>
    private async Task CheckFundsAsync()
    {
        if (Options.Mode != BillingMode.Prepaid || state.State.Contract is not { } contract)
        {
            return;
        }

        var balance = (await GrainFactory.GetGrain<IAccountGrain>(contract.TwinId).GetAsync()).Balance;
        var now = services.Clock.UtcNow;
        if (balance >= 0 && state.State.GraceSince is not null)
        {
            state.State.GraceSince = null;
            await ReconcileAsync();
        }
        else if (balance < 0 && state.State.GraceSince is null)
        {
            state.State.GraceSince = now;
            Meter.Stop(now);
        }
        else if (balance < 0 && now >= state.State.GraceSince + Options.GracePeriod)
        {
            await EndAsync(BillingEvents.CauseOutOfFunds);
            return;
        }

        await state.WriteStateAsync();
    }

    /// <summary>The final bill up to now, then the lock released, the renter's reservations billed again, the contract gone.</summary>
    private async Task EndAsync(string cause)
    {
        var contract = state.State.Contract!;
        var now = services.Clock.UtcNow;
        Meter.Stop(now);
        await BillAsync(ReservationMeter.Second(now));
        var answer = await Node.SetRenterAsync(null, contract.Id);
        await services.Ledger.AppendAsync(RentEvents.ReleasedEntry(contract, cause));
        await GrainFactory.GetGrain<IRentRegistryGrain>(0).RemoveAsync(contract.Id);
        state.State = new NodeRentState { Meter = new ReservationMeter { Bills = Meter.Bills } };
        await state.WriteStateAsync();
        await TellReservationsAsync(answer.ReservationIds, rented: false);
        LogReleased(logger, NodeId, contract.Id, cause);
    }

    private async Task RequireFundsAsync(long twinId, long pricePerHour)
    {
        if (Options.Mode != BillingMode.Prepaid)
        {
            return;
        }

        var needed = Pricing.PriceFor(pricePerHour, Options.Cycle);
        var balance = (await GrainFactory.GetGrain<IAccountGrain>(twinId).GetAsync()).Balance;
        if (balance < needed)
        {
            throw new GridRequestException(402, "Payment required",
                $"Prepaid billing needs a balance covering one cycle ({Options.Cycle}) of the rent at {pricePerHour} per hour: {Options.Format(needed)}; the balance is {Options.Format(balance)}.");
        }
    }

    private Task TellReservationsAsync(ImmutableArray<long> reservationIds, bool rented) =>
        Task.WhenAll(reservationIds.Select(id => GrainFactory.GetGrain<IReservationGrain>(id).RentChangedAsync(NodeId, rented)));

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} rented under contract {ContractId} by twin {TwinId} at {PricePerHour} per hour")]
    private static partial void LogRented(ILogger logger, long nodeId, long contractId, long twinId, long pricePerHour);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId}: rent contract {ContractId} ended ({Cause})")]
    private static partial void LogReleased(ILogger logger, long nodeId, long contractId, string cause);
}
