using Grid.Grains;

namespace Grid.Billing;

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.twin-billing")]
public sealed class TwinBillingState
{
    [Id(0)] public HashSet<long> GraceReservationIds { get; set; } = [];
}

/// <summary>A twin's reservations in grace and its withdrawals (key: twin id). Money itself lives only in the ledger.</summary>
public sealed class TwinBillingGrain(
    [PersistentState("twin-billing", GridStorage.Name)] IPersistentState<TwinBillingState> state,
    BillingMetrics metrics) : Grain, ITwinBillingGrain
{
    private WriteCoalescer? _writer;

    private long TwinId => this.GetPrimaryKeyLong();

    // Adds and removes interleave with a resume pass: their writes go one at a time.
    private WriteCoalescer Writer => _writer ??= new WriteCoalescer(() => state.WriteOrDeactivateAsync(this));

    public async Task AddGraceAsync(long reservationId)
    {
        if (state.State.GraceReservationIds.Add(reservationId))
        {
            // Decided before the write yields: interleaved adds and removes each see their own transition.
            var entered = state.State.GraceReservationIds.Count == 1;
            await Writer.WriteAsync();
            if (entered)
            {
                metrics.AccountGraceEntered();
            }
        }
    }

    public async Task RemoveGraceAsync(long reservationId)
    {
        if (state.State.GraceReservationIds.Remove(reservationId))
        {
            var left = state.State.GraceReservationIds.Count == 0;
            await Writer.WriteAsync();
            if (left)
            {
                metrics.AccountGraceLeft();
            }
        }
    }

    public async Task<int> ResumeAsync()
    {
        var resumed = 0;
        // One at a time: each resume removes itself (one write at a time), and the balance is re-read for each.
        foreach (var id in state.State.GraceReservationIds.ToList())
        {
            var reservation = GrainFactory.GetGrain<IReservationGrain>(id);
            if (await reservation.ResumeIfFundedAsync() && (await reservation.GetAsync())?.State != ReservationState.Grace)
            {
                resumed++;
            }
        }

        return resumed;
    }

    public async Task<AccountInfo> WithdrawAsync(long amount, string key)
    {
        var account = GrainFactory.GetGrain<IAccountGrain>(TwinId);
        var before = await account.GetAsync();
        if (before.Balance < amount)
        {
            throw new GridRequestException(409, "Insufficient balance",
                $"Twin {TwinId} has {before.Balance} minor units; a withdrawal of {amount} would take it below zero.");
        }

        await GrainFactory.GetGrain<ILedgerGrain>(0).AppendAsync(BillingEvents.Withdrawal(TwinId, key, amount));
        return await account.GetAsync();
    }
}
