using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Grid.Storage.Tests;

/// <summary>
/// Grain calls between silos of two releases during a rolling upgrade: a message from the release before
/// priorities has no priority field, and the receiver must read the default, not 0 (the lowest priority, which any
/// reservation may preempt: a rolling upgrade stopped an acknowledged workload that way); one from before GPUs has
/// no GPU lists, and the receiver must read them empty, not as a default array that throws when enumerated.
/// </summary>
public sealed class WireAcrossReleasesTests
{
    private static readonly Serializer Wire =
        new ServiceCollection().AddSerializer(s => s.AddAssembly(typeof(WireAcrossReleasesTests).Assembly).AddAssembly(typeof(Allocation).Assembly))
            .BuildServiceProvider().GetRequiredService<Serializer>();

    private static T Read<T>(byte[] bytes) => Wire.Deserialize<T>(bytes) ?? throw new InvalidOperationException($"no {typeof(T).Name} read");

    [Fact]
    public void AMessageOfAnOlderReleaseReadsTheDefaultPriority()
    {
        var older = Wire.SerializeToArray(new ReleaseBeforePriorities(7));

        var allocation = Read<Allocation>(older);
        Assert.Equal((7, ReservationPriority.Default), (allocation.ReservationId, allocation.Priority));
        Assert.Equal(ReservationPriority.Default, Read<AllocationRequest>(older).Priority);
        Assert.Equal(ReservationPriority.Default, Read<ReservationRequest>(older).Priority);
        Assert.Equal(ReservationPriority.Default, Read<ReservationInfo>(older).Priority);
        Assert.Equal(ReservationPriority.Default, Read<Quote>(older).Priority);
        Assert.Equal(ReservationPriority.Max, Read<NodeSummary>(older).LowestPriority);
    }

    [Fact]
    public void AMessageOfAnOlderReleaseReadsNoGpusRatherThanAnArrayThatThrows()
    {
        // None of the fields: these types do not all start with a number.
        var older = Wire.SerializeToArray(new ReleaseOfNoKnownFields());

        Assert.Empty(Read<Allocation>(older).GpuIds);
        Assert.Empty(Read<AllocationRequest>(older).GpuModels);
        Assert.Empty(Read<AllocationResult>(older).GpuIds);
        Assert.Empty(Read<NodeSummary>(older).Gpus);
        Assert.Empty(Read<NodeInfo>(older).Gpus);
        Assert.Empty(Read<NodeRegistration>(older).Gpus);
        Assert.Empty(Read<PlacementConstraints>(older).GpuModels);
        Assert.Empty(Read<WorkloadAssignment>(older).GpuIds);
    }

    [Fact]
    public void APrioritySentIsThePriorityRead()
    {
        var request = new AllocationRequest(1, 1, 1, new Capacity(1, 1, 0, 0), null, []) { Priority = 0 };
        var allocation = new Allocation(1, 1, 1, new Capacity(1, 1, 0, 0), [], null, [], DateTimeOffset.UnixEpoch) { Priority = 90 };

        Assert.Equal(0, Read<AllocationRequest>(Wire.SerializeToArray(request)).Priority);
        Assert.Equal(90, Read<Allocation>(Wire.SerializeToArray(allocation)).Priority);
        Assert.Equal(request, Read<AllocationRequest>(Wire.SerializeToArray(request)));
    }
}

/// <summary>What a silo of an older release sends: the leading fields, none of the ones added since.</summary>
[GenerateSerializer, Alias("grid.tests.release-before-priorities")]
public sealed record ReleaseBeforePriorities([property: Id(0)] long Id);

/// <summary>A message none of whose fields the receiver knows: every field it reads is the one it makes without a sender.</summary>
[GenerateSerializer, Alias("grid.tests.release-of-no-known-fields")]
public sealed record ReleaseOfNoKnownFields;
