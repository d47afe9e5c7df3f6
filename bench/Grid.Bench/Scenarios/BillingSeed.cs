using System.Collections.Immutable;
using Grid.Billing;
using Grid.Grains;
using Grid.Reservations;
using Orleans.Storage;

namespace Grid.Bench.Scenarios;

/// <summary>
/// The cheap half of the billing cycle's setup. One reservation per node is placed through the grain API (scheduler,
/// node ledger, tenant and billing buckets, ledger entry); every further reservation is a copy of the record one of
/// those wrote — the same bytes the reservation grain would store for a reservation of that tenant placed on that
/// node at that instant (nothing in a stored reservation names its own id; its ledger events are stored already
/// appended) — written under a new id into the silo's grain storage, with its <c>reservation.placed</c> ledger entry (through the ledger grain, in batches) and its
/// billing bucket membership (one write per bucket). What copies lack: the node's capacity ledger and the tenant's
/// reservation list do not list them (billing reads neither). The cycle then activates each copy from storage and
/// bills it through the production path, exactly as it does a placed one.
/// </summary>
public static class BillingSeed
{
    private const string StateName = "reservation";
    private const int Chunk = 4096;

    /// <summary>Stores reservations <c>first + templates … first + total - 1</c> as copies of the placed ones.</summary>
    public static async Task CopyAsync(BenchSilo silo, BillingOptions options, long first, int templates, int total)
    {
        var storage = silo.Services.GetRequiredKeyedService<IGrainStorage>(GridStorage.Name);
        var ledger = silo.Grains.GetGrain<ILedgerGrain>(0);
        var records = new ReservationRecord[templates];
        for (var i = 0; i < templates; i++)
        {
            var stored = new GrainState<ReservationRecord>(new ReservationRecord());
            await storage.ReadStateAsync(StateName, GrainIdOf(silo, first + i), stored);
            if (stored.State is not { Request: not null, State: ReservationState.Active, Meter.Open: not null })
            {
                throw new BenchFailedException($"billing: placed reservation {first + i} is not stored active with a running meter");
            }

            // Stored before its ledger events were appended (the grain appends them after the write and clears
            // them at its next write): a copy's own placed event is appended below, so the copy is stored as
            // after that next write.
            stored.State.Meter.Pending = [];
            records[i] = stored.State;
        }

        var progress = new Progress($"billing: {total - templates} reservations stored as copies", total - templates);
        var buckets = new ImmutableArray<long>.Builder?[options.Buckets];
        var chunks = Enumerable.Range(0, (total - templates + Chunk - 1) / Chunk)
            .Select(c => (From: first + templates + ((long)c * Chunk), Count: Math.Min(Chunk, total - templates - (c * Chunk))));
        await Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (chunk, _) =>
        {
            var placed = ImmutableArray.CreateBuilder<LedgerAppend>(chunk.Count);
            for (var id = chunk.From; id < chunk.From + chunk.Count; id++)
            {
                var record = records[(id - first) % templates];
                await storage.WriteStateAsync(StateName, GrainIdOf(silo, id), new GrainState<ReservationRecord>(record));
                placed.Add(BillingEvents.Placed(id, record.Request!.TwinId, record.NodeId!.Value, record.Meter.FarmId, record.Epoch,
                    record.Request.Resources, record.Meter.PricePerHour, [.. record.PublicIps]));
                lock (buckets)
                {
                    (buckets[options.BucketOf(id)] ??= ImmutableArray.CreateBuilder<long>()).Add(id);
                }
            }

            await ledger.AppendBatchAsync(placed.MoveToImmutable());
            progress.Add(chunk.Count);
        });

        await Task.WhenAll(buckets.Select((ids, bucket) => ids is null
            ? Task.CompletedTask
            : silo.Grains.GetGrain<IBillingBucketGrain>(bucket).AddManyAsync(ids.ToImmutable())));
        progress.Done();
    }

    private static GrainId GrainIdOf(BenchSilo silo, long reservationId) => silo.Grains.GetGrain<IReservationGrain>(reservationId).GetGrainId();
}
