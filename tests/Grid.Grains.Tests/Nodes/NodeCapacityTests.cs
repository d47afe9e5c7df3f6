using System.Collections.Immutable;
using FsCheck.Xunit;
using Grid.Nodes;

namespace Grid.Grains.Tests.Nodes;

/// <summary>The node's allocation ledger on its own: properties over random sequences of allocations and releases.</summary>
public sealed class NodeCapacityTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly Capacity Machine = new(8, 64, 500, 1000);
    private static readonly double[] Ratios = [1.0, 1.5, 2.0, 4.0];

    [Property(MaxTest = 200)]
    public void RandomAllocationsAndReleasesNeverOverbookTheNode(int seed)
    {
        var random = new Random(seed);
        var ratio = Ratios[random.Next(Ratios.Length)];
        var ledger = new NodeCapacity(Machine, ratio, []);
        for (var step = 0; step < 200; step++)
        {
            if (random.Next(3) > 0)
            {
                var requests = Enumerable.Range(0, random.Next(1, 5)).Select(_ => RandomRequest(random)).ToImmutableArray();
                var before = ledger.Used();
                var claim = ledger.TryAllocate(requests, Now);

                // What a claim took is exactly the change in use (an older epoch it replaced counts as given back).
                var taken = claim.Taken.Aggregate(Capacity.Zero, (sum, t) => sum + t.Allocation.Resources - (t.Existing?.Resources ?? Capacity.Zero));
                Assert.Equal(before + taken, ledger.Used());
                Assert.All(claim.Results.Where(r => r is not null), r => Assert.NotEqual(AllocationOutcome.Allocated, r!.Outcome));
            }
            else
            {
                ledger.Release([new HeldPlacement(random.Next(1, 13), random.Next(1, 4))]);
            }

            var used = ledger.Used();
            Assert.Equal(Sum(ledger.Allocations), used);
            Assert.True(used.Mru <= Machine.Mru && used.Sru <= Machine.Sru && used.Hru <= Machine.Hru, $"RAM or disk overcommitted: {used}");
            Assert.True(used.Cru <= (long)Math.Floor(Machine.Cru * ratio), $"CPU beyond the ratio {ratio}: {used}");
            Assert.False(ledger.Free().IsNegative);
        }
    }

    [Property(MaxTest = 200)]
    public void AReleaseGivesBackExactlyWhatTheAllocationTook(int seed)
    {
        var random = new Random(seed);
        var ledger = RandomLedger(random);
        var before = Snapshot(ledger);
        var usedBefore = ledger.Used();

        var request = RandomRequest(random) with { ReservationId = 99, AntiAffinityGroup = null };
        var claim = ledger.TryAllocate([request], Now);
        Assert.Empty(claim.Retries);
        if (claim.Taken.Count == 0)
        {
            // Refused for capacity: nothing changed.
            Assert.Equal(AllocationOutcome.InsufficientCapacity, claim.Results[0]!.Outcome);
            Assert.NotNull(claim.Results[0]!.Shortfall);
            Assert.Equal(before, Snapshot(ledger));
            return;
        }

        Assert.Equal(usedBefore + request.Resources, ledger.Used());
        var released = ledger.Release([new HeldPlacement(99, request.Epoch)]);

        Assert.Equal(request.Resources, Assert.Single(released).Allocation.Resources);
        Assert.Equal(usedBefore, ledger.Used());
        Assert.Equal(before, Snapshot(ledger));
    }

    [Property(MaxTest = 100)]
    public void AllocatingTheHeldEpochAgainIsARetryThatChangesNothing(int seed)
    {
        var random = new Random(seed);
        var ledger = RandomLedger(random);
        var held = ledger.Allocations.FirstOrDefault();
        if (held is null)
        {
            return;
        }

        var before = Snapshot(ledger);
        var claim = ledger.TryAllocate([new AllocationRequest(held.ReservationId, held.Epoch, held.TwinId, held.Resources, held.AntiAffinityGroup, [])], Now);

        Assert.Equal([0], claim.Retries);
        Assert.Empty(claim.Taken);
        Assert.Equal(before, Snapshot(ledger));
        Assert.True(ledger.IsCurrent(held));
    }

    [Property(MaxTest = 100)]
    public void UndoingAClaimOrAReleaseWhoseWriteFailedRestoresTheLedgerExactly(int seed)
    {
        var random = new Random(seed);
        var ledger = RandomLedger(random);
        var before = Snapshot(ledger);

        var claim = ledger.TryAllocate([.. Enumerable.Range(0, 4).Select(_ => RandomRequest(random))], Now);
        ledger.Undo(claim);
        Assert.Equal(before, Snapshot(ledger));

        var released = ledger.Release([.. ledger.ReservationIds.Take(3).Select(id => new HeldPlacement(id, long.MaxValue))]);
        Assert.Equal(Math.Min(3, before.Count), released.Count);
        ledger.UndoRelease(released);
        Assert.Equal(before, Snapshot(ledger));
    }

    [Fact]
    public void ANewEpochOfAReservationReplacesItsOldOneWhoseCapacityCountsAsFree()
    {
        var ledger = new NodeCapacity(Machine, 1.0, []);
        var whole = new AllocationRequest(1, 1, 7, Machine, null, []);
        Assert.Single(ledger.TryAllocate([whole], Now).Taken);

        var claim = ledger.TryAllocate([whole with { Epoch = 2 }], Now);

        var taken = Assert.Single(claim.Taken);
        Assert.Equal(1, taken.Existing!.Epoch);
        Assert.Equal(Machine, ledger.Used());
        Assert.Equal(2, Assert.Single(ledger.Allocations).Epoch);

        // A release of the older epoch is stale: the newer placement stays.
        Assert.Empty(ledger.Release([new HeldPlacement(1, 1)]));
        Assert.Equal(1, ledger.Count);
    }

    [Fact]
    public void CpuMayBeOvercommittedUpToTheRatioButRamNever()
    {
        var ledger = new NodeCapacity(new Capacity(4, 16, 0, 0), 2.0, []);
        var claim = ledger.TryAllocate(
        [
            new AllocationRequest(1, 1, 7, new Capacity(4, 4, 0, 0), null, []),
            new AllocationRequest(2, 1, 7, new Capacity(4, 4, 0, 0), null, []),
            new AllocationRequest(3, 1, 7, new Capacity(1, 1, 0, 0), null, []),
            new AllocationRequest(4, 1, 7, new Capacity(0, 9, 0, 0), null, []),
        ], Now);

        Assert.Equal([0, 1], claim.Taken.Select(t => t.Index));
        Assert.Equal(CapacityUnit.Cru, claim.Results[2]!.Shortfall);
        Assert.Equal(CapacityUnit.Mru, claim.Results[3]!.Shortfall);
    }

    [Fact]
    public void ATwinsAntiAffinityGroupHoldsOneReservationPerNode()
    {
        var ledger = new NodeCapacity(Machine, 1.0, []);
        var one = new Capacity(1, 1, 0, 0);
        var claim = ledger.TryAllocate(
        [
            new AllocationRequest(1, 1, 7, one, "db", []),
            new AllocationRequest(2, 1, 7, one, "db", []),
            new AllocationRequest(3, 1, 8, one, "db", []),
            new AllocationRequest(4, 1, 7, one, "web", []),
        ], Now);

        Assert.Equal([0, 2, 3], claim.Taken.Select(t => t.Index));
        Assert.Equal(AllocationOutcome.AntiAffinity, claim.Results[1]!.Outcome);
        Assert.Equal(["7/db", "7/web", "8/db"], ledger.AntiAffinityKeys().Order(StringComparer.Ordinal));

        // A new epoch of the same reservation is not its own neighbour.
        Assert.Single(ledger.TryAllocate([new AllocationRequest(1, 2, 7, one, "db", [])], Now).Taken);
    }

    [Fact]
    public void AnUndoLeavesAloneAnEntryAnInterleavedCallChangedSince()
    {
        var ledger = new NodeCapacity(Machine, 1.0, []);
        var first = ledger.TryAllocate([new AllocationRequest(1, 1, 7, new Capacity(2, 2, 0, 0), null, [])], Now);

        // An interleaved call (at the first one's await) releases it and places a newer epoch.
        ledger.Release([new HeldPlacement(1, 1)]);
        var newer = Assert.Single(ledger.TryAllocate([new AllocationRequest(1, 2, 7, new Capacity(3, 3, 0, 0), null, [])], Now).Taken).Allocation;
        ledger.Undo(first);

        Assert.True(ledger.IsCurrent(newer));
        Assert.Equal(new Capacity(3, 3, 0, 0), ledger.Used());
    }

    [Fact]
    public void AttachedAddressesAndWorkloadsReplaceTheEntryAndCountInTheDesiredList()
    {
        var ledger = new NodeCapacity(Machine, 1.0, []);
        var taken = Assert.Single(ledger.TryAllocate([new AllocationRequest(1, 3, 7, new Capacity(1, 1, 0, 0, 1), null, [])], Now).Taken).Allocation;
        var withIps = ledger.AttachIps(taken, [new FarmIp("10.0.0.1", "10.0.0.254", 1, 3)]);
        Assert.False(ledger.IsCurrent(taken));
        Assert.True(ledger.IsCurrent(withIps));

        var workload = new WorkloadAssignment(11, 1, 3, new WorkloadSpec("web", WorkloadType.Process, new Capacity(1, 1, 0, 0), null));
        Assert.Null(ledger.SetWorkloads(1, 2, [workload]));
        var change = ledger.SetWorkloads(1, 3, [workload])!.Value;

        Assert.Same(withIps, change.Previous);
        Assert.Equal([workload], ledger.Desired().AsEnumerable());
        Assert.Equal(3, ledger.WorkloadEpochs()[11]);
        Assert.Equal(1, ledger.WorkloadCount());
        Assert.Equal(1, ledger.Used().Ipv4);
    }

    [Property(MaxTest = 200)]
    public void TheDesiredListIsAlwaysWhatTheHeldAllocationsSayAndTheSameListWhileNothingChanged(int seed)
    {
        // Desired() keeps the list it built until an allocation is added, removed or replaced: over random changes of
        // every kind the ledger makes (and undoes), it must answer what a list built afresh says.
        var random = new Random(seed);
        var ledger = new NodeCapacity(Machine, 4.0, []);
        var nextWorkload = 1L;
        for (var step = 0; step < 120; step++)
        {
            var reservation = random.Next(1, 7);
            switch (random.Next(5))
            {
                case 0:
                    var claim = ledger.TryAllocate([RandomRequest(random) with { ReservationId = reservation, AntiAffinityGroup = null, Workloads = Workloads(reservation, random.Next(0, 3)) }], Now);
                    if (random.Next(4) == 0)
                    {
                        ledger.Undo(claim);
                    }

                    break;
                case 1:
                    if (ledger.TryGet(reservation, out var held))
                    {
                        var change = ledger.SetWorkloads(reservation, held.Epoch, Workloads(reservation, random.Next(0, 4)));
                        if (change is { } made && random.Next(3) == 0)
                        {
                            ledger.Restore(reservation, made.Updated, made.Previous);
                        }
                    }

                    break;
                case 2:
                    var released = ledger.Release([new HeldPlacement(reservation, random.Next(1, 4))]);
                    if (random.Next(3) == 0)
                    {
                        ledger.UndoRelease(released);
                    }

                    break;
                default:
                    // Heartbeats: nothing changes between them.
                    var first = ledger.Desired();
                    Assert.True(first == ledger.Desired(), "asked twice with nothing changed: another list");
                    break;
            }

            Assert.Equal(Fresh(ledger), ledger.Desired().AsEnumerable());
        }

        ImmutableArray<WorkloadAssignment> Workloads(long reservationId, int count) =>
            [.. Enumerable.Range(0, count).Select(_ => new WorkloadAssignment(nextWorkload++, reservationId, 1, new WorkloadSpec("w", WorkloadType.Process, Capacity.Zero, null)))];

        static IEnumerable<WorkloadAssignment> Fresh(NodeCapacity ledger) => ledger.Allocations.SelectMany(a => a.Workloads).ToList();
    }

    private static AllocationRequest RandomRequest(Random random) => new(
        random.Next(1, 13),
        random.Next(1, 4),
        random.Next(1, 3),
        new Capacity(random.Next(0, 5), random.Next(0, 24), random.Next(0, 200), random.Next(0, 400)),
        random.Next(4) == 0 ? "group" : null,
        []);

    private static NodeCapacity RandomLedger(Random random)
    {
        var ledger = new NodeCapacity(Machine, Ratios[random.Next(Ratios.Length)], []);
        for (var i = 0; i < random.Next(0, 8); i++)
        {
            ledger.TryAllocate([RandomRequest(random)], Now);
        }

        return ledger;
    }

    private static Capacity Sum(IEnumerable<Allocation> allocations) =>
        allocations.Aggregate(Capacity.Zero, (sum, a) => sum + a.Resources);

    private static List<Allocation> Snapshot(NodeCapacity ledger) => [.. ledger.Allocations.OrderBy(a => a.ReservationId)];
}
